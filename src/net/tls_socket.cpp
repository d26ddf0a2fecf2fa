#include "net/tls_socket.hpp"

#include <openssl/err.h>

#include "net/tcp_stream.hpp"

namespace porthole::net {

using namespace asio::experimental::awaitable_operators;

std::string openssl_error_text() {
  std::string out;
  while (auto e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

TlsSocket::TlsSocket(tcp::socket socket, SSL_CTX* ctx, Side side)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx)) {
  tune_socket(socket_);
  if (ssl_) {
    SSL_set_fd(ssl_.get(), static_cast<int>(socket_.native_handle()));
    if (side == Side::client) {
      SSL_set_connect_state(ssl_.get());
    } else {
      SSL_set_accept_state(ssl_.get());
    }
    SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
}

TlsSocket::~TlsSocket() { close(); }

Task<bool> TlsSocket::wait_for(int ssl_error) {
  auto what = ssl_error == SSL_ERROR_WANT_WRITE ? tcp::socket::wait_write : tcp::socket::wait_read;
  auto [ec] = co_await socket_.async_wait(what, use_nothrow);
  co_return !ec && socket_.is_open();
}

Task<Result<void>> TlsSocket::handshake(std::chrono::milliseconds timeout) {
  if (!ssl_) co_return make_error("TLS: {}", openssl_error_text());
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl_.get());
    if (rc == 1) co_return Result<void>{};
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
        auto detail = ERR_peek_error() ? openssl_error_text() : std::string("connection closed by peer");
        co_return make_error("TLS handshake failed: {}", detail);
      }
      co_return make_error("TLS handshake failed: {}", openssl_error_text());
    }
    asio::steady_timer timer(ex, deadline);
    auto r = co_await (wait_for(err) || timer.async_wait(use_nothrow));
    if (r.index() == 1) co_return make_error("TLS handshake timed out after {} ms", timeout.count());
    if (!std::get<0>(r)) co_return make_error("TLS handshake: connection closed");
  }
}

Task<Result<std::size_t>> TlsSocket::read_some(std::span<std::uint8_t> buf) {
  std::size_t got = 0;
  for (;;) {
    if (!socket_.is_open()) co_return make_error("connection closed");
    ERR_clear_error();
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_.get(), buf.data() + got, buf.size() - got, &n);
    if (rc == 1) {
      // One call yields at most one TLS record (16 KiB): keep reading what is already there,
      // so the mux sees whole frames and stages (copies) nothing.
      got += n;
      if (got < buf.size()) continue;
      co_return got;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    if (got > 0) co_return got;  // report the data now; a close or error shows up on the next call
    if (err == SSL_ERROR_ZERO_RETURN) co_return std::size_t{0};
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!co_await wait_for(err)) co_return make_error("connection closed");
      continue;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) co_return make_error("connection lost");
    co_return make_error("TLS read: {}", openssl_error_text());
  }
}

Task<Result<void>> TlsSocket::write_all(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    if (!socket_.is_open()) co_return make_error("connection closed");
    ERR_clear_error();
    std::size_t n = 0;
    const int rc = SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n);
    if (rc == 1) {
      bytes = bytes.subspan(n);
      continue;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (!co_await wait_for(err)) co_return make_error("connection closed");
      continue;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) co_return make_error("connection lost");
    co_return make_error("TLS write: {}", openssl_error_text());
  }
  co_return Result<void>{};
}

void TlsSocket::close() {
  if (!socket_.is_open()) return;
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    SSL_set_quiet_shutdown(ssl_.get(), 0);
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // non-blocking: best effort close_notify
    ERR_clear_error();
  }
  error_code ec;
  socket_.close(ec);
}

}  // namespace porthole::net
