// When to (re)send a UDP request and how long to wait for its reply, sans-I/O: the caller reads
// the clock and passes the time in; nothing here sleeps or touches a socket. Used by the PCP
// client (RFC 6887 §8.1.1 style retransmission, shortened: first after 250 ms, doubling, capped).
//
// Waits are rounded UP to whole milliseconds (what poll(2) takes), so a wait never ends before
// the moment it waits for: the caller cannot spin (resending each pass) in the last millisecond
// before a retransmission or the deadline. Times are kept as time points, never as a doubling
// count that could overflow.
#pragma once

#include <chrono>

namespace porthole::router {

class Retransmit {
 public:
  using Clock = std::chrono::steady_clock;

  Retransmit(Clock::time_point start, std::chrono::milliseconds timeout,
             std::chrono::milliseconds first_rto = std::chrono::milliseconds(250),
             std::chrono::milliseconds max_rto = std::chrono::milliseconds(4000));

  // The whole exchange is over at the deadline (start + timeout).
  bool expired(Clock::time_point now) const { return now >= deadline_; }
  // True when a (re)transmission is due at `now`: the first call, then each time the current
  // interval has passed (never at or after the deadline). Marks it sent and schedules the next.
  bool send_due(Clock::time_point now);
  // Milliseconds to wait for a reply from `now`: until the next transmission or the deadline,
  // whichever is first, rounded up; 0 when expired.
  int wait_ms(Clock::time_point now) const;
  int sends() const { return sends_; }
  Clock::time_point deadline() const { return deadline_; }

 private:
  Clock::time_point deadline_;
  Clock::time_point next_send_;
  std::chrono::milliseconds rto_;
  std::chrono::milliseconds max_rto_;
  int sends_ = 0;
};

}  // namespace porthole::router
