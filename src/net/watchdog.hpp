// A deadline for a connection: calls its action once when it expires, unless re-armed or
// disarmed first. The action typically aborts the streams the connection waits on, which
// ends their pending reads and writes (no cancellation of individual operations needed).
// Safe to destroy with the timer pending: the handler holds only a weak reference.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "net/asio.hpp"

namespace porthole::net {

class Watchdog {
 public:
  explicit Watchdog(const Executor& ex) : timer_(ex), state_(std::make_shared<State>()) {}
  ~Watchdog() { disarm(); }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void arm(std::chrono::steady_clock::duration d, std::function<void()> action) {
    const auto gen = ++state_->gen;
    state_->action = std::move(action);
    timer_.expires_after(d);
    std::weak_ptr<State> weak = state_;
    timer_.async_wait([weak, gen](const error_code& ec) {
      auto s = weak.lock();
      if (ec || !s || s->gen != gen || !s->action) return;
      auto run = std::move(s->action);
      s->action = nullptr;
      s->fired = true;
      run();
    });
  }
  void disarm() {
    ++state_->gen;
    state_->action = nullptr;
    timer_.cancel();
  }
  // The last armed deadline expired (and its action ran).
  bool fired() const { return state_->fired; }
  void reset_fired() { state_->fired = false; }

 private:
  struct State {
    std::uint64_t gen = 0;
    std::function<void()> action;
    bool fired = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace porthole::net
