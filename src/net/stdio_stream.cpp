#include "net/stdio_stream.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace porthole::net {

namespace {
// Gives `fd` to `d`; when the reactor cannot wait on it (EPERM for regular files), returns fd
// for plain I/O instead.
int adopt(asio::posix::stream_descriptor& d, int fd) {
  error_code ec;
  d.assign(fd, ec);
  if (!ec) {
    d.non_blocking(true, ec);
    return -1;
  }
  return fd;
}
}  // namespace

StdioStream::StdioStream(const Executor& ex, int in_fd, int out_fd) : in_(ex), out_(ex) {
  in_plain_ = adopt(in_, in_fd);
  out_plain_ = adopt(out_, out_fd);
}

StdioStream::~StdioStream() {
  error_code ec;
  in_.close(ec);
  out_.close(ec);
  if (in_plain_ >= 0) ::close(in_plain_);
  if (out_plain_ >= 0) ::close(out_plain_);
}

Task<Result<Chunk>> StdioStream::read() {
  if (in_done_) co_return Chunk{};
  for (;;) {
    if (in_plain_ < 0) {
      auto [wait_ec] = co_await in_.async_wait(asio::posix::stream_descriptor::wait_read, use_nothrow);
      if (wait_ec) co_return make_error("stdin: {}", wait_ec.message());
    }
    Chunk c = Chunk::take();
    auto spare = c.spare();
    const int fd = in_plain_ >= 0 ? in_plain_ : in_.native_handle();
    const auto n = ::read(fd, spare.data(), spare.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) co_return make_error("stdin: {}", std::strerror(errno));
    if (n == 0) {
      in_done_ = true;
      co_return Chunk{};
    }
    c.commit(static_cast<std::size_t>(n));
    co_return c;
  }
}

Task<Result<void>> StdioStream::write(std::span<const std::uint8_t> bytes) {
  if (out_done_) co_return make_error("stdout: closed");
  while (!bytes.empty()) {
    const int fd = out_plain_ >= 0 ? out_plain_ : out_.native_handle();
    const auto n = ::write(fd, bytes.data(), bytes.size());
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && out_plain_ < 0) {
      auto [ec] = co_await out_.async_wait(asio::posix::stream_descriptor::wait_write, use_nothrow);
      if (ec) co_return make_error("stdout: {}", ec.message());
      continue;
    }
    co_return make_error("stdout: {}", n < 0 ? std::strerror(errno) : "write returned 0");
  }
  co_return Result<void>{};
}

void StdioStream::shutdown_write() {
  out_done_ = true;
  error_code ec;
  out_.close(ec);
  if (out_plain_ >= 0) {
    ::close(out_plain_);
    out_plain_ = -1;
  }
}

void StdioStream::abort(std::string_view) {
  in_done_ = true;
  shutdown_write();
  error_code ec;
  in_.cancel(ec);
}

}  // namespace porthole::net
