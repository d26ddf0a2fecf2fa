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

}  // namespace

Result<void> netlink_dump(int protocol, const std::vector<std::uint8_t>& request,
                          const std::function<Result<bool>(std::span<const std::uint8_t>)>& on_chunk,
                          std::chrono::milliseconds timeout) {
  Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol));
  if (fd.get() < 0) return make_error("netlink: socket: {}", std::strerror(errno));
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  auto sent = ::sendto(fd.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                       sizeof kernel);
  if (sent < 0 || static_cast<std::size_t>(sent) != request.size()) {
    return make_error("netlink: send failed: {}", std::strerror(errno));
  }
  std::vector<std::uint8_t> buf(64 * 1024);
  for (int rounds = 0; rounds < 100000; ++rounds) {
    auto n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error("netlink: recv: {}", errno == EAGAIN ? "timed out" : std::strerror(errno));
    if (n == 0) break;
    auto done = on_chunk(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
    if (!done) return done.error();
    if (*done) return {};
  }
  return make_error("netlink: dump did not end");
}

Result<std::vector<SockEntry>> dump_sockets(int family, Proto proto, std::uint32_t states,
                                            std::chrono::milliseconds timeout) {
  static auto& errors =
      metrics::counter("porthole_diag_sockdiag_errors_total", "sock_diag dumps that failed");
  std::vector<SockEntry> out;
  auto r = netlink_dump(
      NETLINK_SOCK_DIAG, build_sockdiag_request(family, proto, states, 1),
      [&](std::span<const std::uint8_t> chunk) -> Result<bool> {
        auto parsed = parse_sockdiag_reply(chunk, proto);
        if (!parsed) return parsed.error();
        for (auto& e : parsed->entries) out.push_back(std::move(e));
        return parsed->done;
      },
      timeout);
  if (!r) {
    errors.inc();
    return make_error("sock_diag: {}", r.error().message);
  }
  return out;
}

}  // namespace porthole::diag
