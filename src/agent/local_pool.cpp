#include "agent/local_pool.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace porthole::agent {

namespace {
// The service has not closed (or reset) the idle connection, and sent nothing unasked.
bool still_usable(net::TcpStream& c) {
  std::uint8_t b;
  const auto n = ::recv(c.socket().native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}
}  // namespace

net::Task<Result<std::unique_ptr<net::TcpStream>>> LocalPool::acquire(bool& reused) {
  const auto now = std::chrono::steady_clock::now();
  while (!idle_.empty()) {
    auto entry = std::move(idle_.back());
    idle_.pop_back();
    if (now - entry.since < idle_timeout_ && still_usable(*entry.conn)) {
      reused = true;
      co_return std::move(entry.conn);
    }
  }
  reused = false;
  ++dials_;
  auto sock = co_await net::dial(target_.host, target_.port, std::chrono::seconds(5));
  if (!sock) co_return sock.error();
  co_return std::make_unique<net::TcpStream>(std::move(*sock));
}

void LocalPool::release(std::unique_ptr<net::TcpStream> conn) {
  const auto now = std::chrono::steady_clock::now();
  while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) idle_.pop_front();
  if (idle_.size() >= max_idle_) idle_.pop_front();
  idle_.push_back(Idle{std::move(conn), now});
}

}  // namespace porthole::agent
