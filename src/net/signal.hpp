// A wake-up signal for coroutines on one executor: wait() suspends until notify().
// Built on a timer that never expires; notify() cancels every pending wait. Callers wait in a
// loop on their own condition, so spurious and early wake-ups are harmless.
#pragma once

#include <chrono>

#include "net/asio.hpp"

namespace porthole::net {

class Signal {
 public:
  explicit Signal(const Executor& ex) : timer_(ex, asio::steady_timer::time_point::max()) {}

  // The timer's own awaitable, not a coroutine around it: a waiting stream holds one frame less.
  auto wait() { return timer_.async_wait(use_nothrow); }
  void notify() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;
};

// Sleeps for `d` (returns early, harmlessly, if the coroutine's executor shuts down).
inline Task<void> sleep_for(std::chrono::steady_clock::duration d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(use_nothrow);
}

}  // namespace porthole::net
