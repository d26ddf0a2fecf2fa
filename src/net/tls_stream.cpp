#include "net/tls_stream.hpp"

#include <openssl/err.h>

namespace porthole::net {

TlsStream::TlsStream(tcp::socket socket, SSL_CTX* ctx, TlsSocket::Side side) : tls_(std::move(socket), ctx, side) {}

bool TlsStream::has_buffered_input() {
  SSL* ssl = tls_.ssl();
  if (ssl == nullptr) return false;
  BIO* rbio = SSL_get_rbio(ssl);
  return SSL_has_pending(ssl) == 1 || (rbio != nullptr && BIO_pending(rbio) > 0);
}

Task<Result<Chunk>> TlsStream::read() {
  if (!tls_.is_open()) co_return make_error("connection closed");
  if (!has_buffered_input()) {
    auto [ec] = co_await tls_.socket().async_wait(tcp::socket::wait_read, use_nothrow);
    if (ec) co_return make_error("read: {}", ec.message());
  }
  Chunk c = Chunk::take();
  auto spare = c.spare();
  auto n = co_await tls_.read_some(spare);
  if (!n) co_return n.error();
  if (*n == 0) co_return Chunk{};
  c.commit(*n);
  co_return c;
}

Task<Result<void>> TlsStream::write(std::span<const std::uint8_t> bytes) {
  auto w = tls_.write_now(bytes);
  if (!w) co_return w.error();
  if (tls_.pending() == 0) co_return Result<void>{};
  auto flushed = co_await tls_.flush();
  if (!flushed) co_return make_error("write: connection lost");
  co_return Result<void>{};
}

void TlsStream::shutdown_write() {
  SSL* ssl = tls_.ssl();
  if (ssl == nullptr || !tls_.is_open() || SSL_is_init_finished(ssl) != 1) return;
  if ((SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) != 0) return;
  ERR_clear_error();
  SSL_shutdown(ssl);  // queues close_notify; 0 (the peer's has not come) is expected
  ERR_clear_error();
  // Sends it now if the socket takes it (there is nothing else pending: write() flushes all).
  [[maybe_unused]] auto sent = tls_.write_now({});
}

void TlsStream::abort(std::string_view) {
  if (!tls_.is_open()) return;
  if (SSL* ssl = tls_.ssl())
    SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);  // no close_notify
  error_code ec;
  tls_.socket().set_option(asio::socket_base::linger(true, 0), ec);  // RST
  tls_.close();
}

}  // namespace porthole::net
