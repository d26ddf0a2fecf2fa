#include "forward/socket_util.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace porthole::forward {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Result<net::asio::ip::address> bind_address(const std::string& host) {
  if (host == "localhost") return net::asio::ip::address(net::asio::ip::address_v4::loopback());
  net::error_code ec;
  auto a = net::asio::ip::make_address(host, ec);
  if (ec) return make_error("'{}' is not an IP address", host);
  return a;
}

Result<Fd> bind_listener(const Listener& l) {
  auto fail = [&](std::string_view what) {
    return make_error("cannot listen on {} ({}): {}: {}", l.key(), l.origin, what, std::strerror(errno));
  };
  auto addr = bind_address(l.bind_host);
  if (!addr) return make_error("cannot listen on {} ({}): {}", l.key(), l.origin, addr.error().message);
  const bool v6 = addr->is_v6();
  const int type = (l.proto == Proto::tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  Fd fd(::socket(v6 ? AF_INET6 : AF_INET, type, 0));
  if (fd.get() < 0) return fail("socket");
  const int one = 1;
  (void)::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) return fail("SO_REUSEPORT");
  if (v6) {
    const int v6only = addr->to_v6().is_unspecified() ? 0 : 1;
    (void)::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (l.proto == Proto::udp) {  // room for bursts from many visitors (capped by net.core.rmem_max)
    const int buf = 1 << 20;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  }
  net::asio::ip::tcp::endpoint ep(*addr, l.port);  // only for its sockaddr
  if (::bind(fd.get(), ep.data(), static_cast<socklen_t>(ep.size())) != 0) return fail("bind");
  if (l.proto == Proto::tcp && ::listen(fd.get(), 4096) != 0) return fail("listen");
  return fd;
}

policy::Ip to_policy_ip(const net::asio::ip::address& a) {
  policy::Ip ip;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(ip.bytes.data() + 12, b.data(), 4);
  } else {
    const auto b = a.to_v6().to_bytes();
    std::memcpy(ip.bytes.data(), b.data(), 16);
  }
  return ip;
}

void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace porthole::forward
