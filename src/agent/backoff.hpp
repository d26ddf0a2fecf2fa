// Reconnect delays: exponential with jitter. The first retry comes within a second, the cap
// is 30 s; after a session that was welcomed the sequence starts over.
#pragma once

#include <chrono>
#include <cstdint>

namespace porthole::agent {

class Backoff {
 public:
  explicit Backoff(std::chrono::milliseconds first = std::chrono::seconds(1),
                   std::chrono::milliseconds cap = std::chrono::seconds(30))
      : first_(first), cap_(cap) {}

  // The next delay. `random01` in [0, 1) picks the jitter: the delay is in [d/2, d) where d
  // doubles each attempt up to the cap.
  std::chrono::milliseconds next(double random01);
  // Jump straight to the cap (e.g. the relay refused our token: retrying fast will not help).
  void to_cap() { attempt_ = 63; }
  void reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  std::chrono::milliseconds first_, cap_;
  int attempt_ = 0;
};

}  // namespace porthole::agent
