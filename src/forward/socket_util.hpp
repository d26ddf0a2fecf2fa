// Small socket helpers for the forwarder: listening sockets made up front (so a reload can bind
// everything it needs before changing anything), address conversions.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.hpp"
#include "forward/rules.hpp"
#include "net/asio.hpp"
#include "policy/cidr.hpp"

namespace porthole::forward {

// An owned file descriptor (closed unless released).
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  int get() const { return fd_; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

// A bound socket for `l` (TCP: listening, backlog 4096) with SO_REUSEADDR and SO_REUSEPORT,
// so that one socket per thread can share the port (the kernel spreads connections) and a
// changed rule's new socket can be bound before the old one closes. "::" is dual-stack; other
// IPv6 addresses are IPv6 only. The error names the rule.
Result<Fd> bind_listener(const Listener& l);

// The bind address as an endpoint (for the socket family).
Result<net::asio::ip::address> bind_address(const std::string& host);

policy::Ip to_policy_ip(const net::asio::ip::address& a);

// Raises the soft RLIMIT_NOFILE to the hard limit (a forwarder holds two or three descriptors
// per connection or flow).
void raise_fd_limit();

}  // namespace porthole::forward
