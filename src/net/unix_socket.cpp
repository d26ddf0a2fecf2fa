#include "net/unix_socket.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/tcp_stream.hpp"

namespace porthole::net {

using namespace asio::experimental::awaitable_operators;

tcp::socket as_tcp_socket(unix_stream::socket s) {
  auto ex = s.get_executor();
  const int fd = s.release();
  tcp::socket out(ex);
  error_code ec;
  // The protocol object only tells Asio the family for its own calls (never made here).
  out.assign(tcp::v4(), fd, ec);
  if (ec) ::close(fd);
  return out;
}

Task<Result<tcp::socket>> dial_unix(std::string path, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  unix_stream::socket sock(ex);
  asio::steady_timer deadline(ex, timeout);
  const unix_stream::endpoint ep(path);
  auto r = co_await (sock.async_connect(ep, use_nothrow) || deadline.async_wait(use_nothrow));
  if (r.index() == 1) co_return make_error(Errc::timed_out, "unix:{}: connecting timed out", path);
  auto [ec] = std::get<0>(r);
  if (ec == asio::error::not_found || ec.value() == ENOENT) {
    co_return make_error(Errc::refused, "unix:{}: no such socket file (is the service running?)", path);
  }
  if (ec) co_return make_error(Errc::refused, "unix:{}: {}", path, ec.message());
  co_return as_tcp_socket(std::move(sock));
}

Task<Result<tcp::socket>> dial_local(const HostPort& at, std::chrono::milliseconds timeout) {
  if (is_unix_address(at)) return dial_unix(std::string(unix_path(at)), timeout);
  return dial(at.host, at.port, timeout);
}

Result<std::unique_ptr<unix_stream::acceptor>> listen_unix(const Executor& ex, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error("{} exists and is not a socket: refusing to replace it", path);
    // A socket file: in use when something accepts on it, else stale (its process is gone).
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), std::min(path.size(), sizeof(sa.sun_path) - 1));
    const bool live = probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    if (probe >= 0) ::close(probe);
    if (live) return make_error("{} is in use (something accepts connections on it)", path);
    if (::unlink(path.c_str()) != 0) return make_error("cannot remove the stale socket {}: {}", path, std::strerror(errno));
  }
  auto acc = std::make_unique<unix_stream::acceptor>(ex);
  error_code ec;
  acc->open(unix_stream(), ec);
  if (ec) return make_error("{}: {}", path, ec.message());
  const mode_t old = ::umask(0177);  // the file is 0600 from the start: no window where others may connect
  acc->bind(unix_stream::endpoint(path), ec);
  ::umask(old);
  if (ec) return make_error("{}: {}", path, ec.message());
  acc->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    unlink_socket(path);
    return make_error("{}: {}", path, ec.message());
  }
  return acc;
}

void unlink_socket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
}

}  // namespace porthole::net
