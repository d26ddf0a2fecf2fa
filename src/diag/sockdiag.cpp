#include "diag/sockdiag.hpp"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/metrics.hpp"

namespace porthole::diag {

namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Result<void> send_request(int fd, int family, Proto proto, std::uint32_t states) {
  auto req = build_sockdiag_request(family, proto, states, 1);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  auto n = ::sendto(fd, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
  if (n < 0 || static_cast<std::size_t>(n) != req.size()) {
    return make_error("sock_diag: send failed: {}", std::strerror(errno));
  }
  return {};
}

}  // namespace

Result<std::vector<SockEntry>> dump_sockets(int family, Proto proto, std::uint32_t states,
                                            std::chrono::milliseconds timeout) {
  static auto& errors =
      metrics::counter("porthole_diag_sockdiag_errors_total", "sock_diag dumps that failed");
  Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) {
    errors.inc();
    return make_error("sock_diag: socket: {}", std::strerror(errno));
  }
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (auto r = send_request(fd.get(), family, proto, states); !r) {
    errors.inc();
    return r.error();
  }
  std::vector<SockEntry> out;
  std::vector<std::uint8_t> buf(64 * 1024);
  for (int rounds = 0; rounds < 100000; ++rounds) {
    auto n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      errors.inc();
      return make_error("sock_diag: recv: {}", errno == EAGAIN ? "timed out" : std::strerror(errno));
    }
    if (n == 0) break;
    auto chunk = parse_sockdiag_reply(std::span(buf.data(), static_cast<std::size_t>(n)), proto);
    if (!chunk) {
      errors.inc();
      return chunk.error();
    }
    for (auto& e : chunk->entries) out.push_back(std::move(e));
    if (chunk->done) return out;
  }
  errors.inc();
  return make_error("sock_diag: dump did not end");
}

}  // namespace porthole::diag
