// Keep-alive connections from the agent to one local service: idle connections are kept (at
// most `max_idle`, each at most `idle_timeout`) and handed out again, after a non-blocking peek
// shows the service has not closed them meanwhile.
#pragma once

#include <chrono>
#include <deque>
#include <memory>

#include "core/address.hpp"
#include "net/tcp_stream.hpp"

namespace porthole::agent {

class LocalPool {
 public:
  explicit LocalPool(HostPort target, std::size_t max_idle = 128,
                     std::chrono::seconds idle_timeout = std::chrono::seconds(30))
      : target_(std::move(target)), max_idle_(max_idle), idle_timeout_(idle_timeout) {}

  // A pooled connection (`reused` true) or a new one; dial errors keep their code
  // (Errc::refused, Errc::timed_out) and name the address.
  net::Task<Result<std::unique_ptr<net::TcpStream>>> acquire(bool& reused);
  // Gives a connection back for reuse (its last response was complete and keep-alive).
  void release(std::unique_ptr<net::TcpStream> conn);

  const HostPort& target() const { return target_; }
  std::uint64_t dials() const { return dials_; }
  std::size_t idle() const { return idle_.size(); }

 private:
  struct Idle {
    std::unique_ptr<net::TcpStream> conn;
    std::chrono::steady_clock::time_point since;
  };
  HostPort target_;
  std::size_t max_idle_;
  std::chrono::seconds idle_timeout_;
  std::deque<Idle> idle_;  // most recently used at the back
  std::uint64_t dials_ = 0;
};

}  // namespace porthole::agent
