#include "net/tls_over_stream.hpp"

#include <vector>

#include <openssl/err.h>

#include "net/signal.hpp"
#include "net/watchdog.hpp"

namespace porthole::net {

// Everything the background close (shutdown_write) needs outlives the stream object: a flush
// that was started keeps the state until the inner stream took the bytes or failed.
struct TlsOverStream::State {
  State(std::shared_ptr<ByteStream> in, SSL_CTX* ctx, const Executor& exec)
      : inner(std::move(in)), ssl(SSL_new(ctx)), ex(exec), flushed(exec) {}
  ~State() {
    if (ssl != nullptr) SSL_free(ssl);  // frees both BIOs
  }

  std::shared_ptr<ByteStream> inner;
  SSL* ssl = nullptr;
  BIO* rbio = nullptr;  // ciphertext in (OpenSSL reads it)
  BIO* wbio = nullptr;  // ciphertext out (OpenSSL writes it)
  bool flushing = false;
  bool fin_wanted = false, fin_sent = false;
  bool inner_eof = false;
  Executor ex;
  Signal flushed;

  // Writes what OpenSSL produced to the inner stream; one flusher at a time, the others wait
  // for it and then send what is left (so a write's bytes are out when it returns).
  Task<bool> flush() {
    while (flushing) co_await flushed.wait();
    flushing = true;
    bool ok = true;
    std::vector<std::uint8_t> buf;
    while (ok && BIO_ctrl_pending(wbio) > 0) {
      buf.resize(BIO_ctrl_pending(wbio));
      const int n = BIO_read(wbio, buf.data(), static_cast<int>(buf.size()));
      if (n <= 0) break;
      buf.resize(static_cast<std::size_t>(n));
      auto w = co_await inner->write(buf);
      ok = w.ok();
    }
    if (ok && fin_wanted && !fin_sent) {
      fin_sent = true;
      inner->shutdown_write();
    }
    flushing = false;
    flushed.notify();
    co_return ok;
  }

  // Reads ciphertext from the inner stream into OpenSSL; false at its end (OpenSSL then sees an
  // end of stream) or on an error.
  Task<bool> fill() {
    auto c = co_await inner->read();
    if (!c || c->empty()) {
      inner_eof = true;
      BIO_set_mem_eof_return(rbio, 0);  // reads of an empty BIO now say "end", not "retry"
      co_return false;
    }
    const auto b = c->bytes();
    BIO_write(rbio, b.data(), static_cast<int>(b.size()));
    co_return true;
  }

  void queue_close_notify() {
    if (ssl == nullptr || SSL_is_init_finished(ssl) != 1) return;
    if ((SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) != 0) return;
    ERR_clear_error();
    SSL_shutdown(ssl);  // 0 (the peer's close_notify has not come) is expected
    ERR_clear_error();
  }
};

namespace {
// The state by value: it lives as long as this coroutine.
Task<void> flush_in_background(std::shared_ptr<TlsOverStream::State> st) { co_await st->flush(); }
}  // namespace

TlsOverStream::TlsOverStream(std::shared_ptr<ByteStream> inner, SSL_CTX* ctx, TlsSocket::Side side,
                             const Executor& ex)
    : st_(std::make_shared<State>(std::move(inner), ctx, ex)) {
  if (st_->ssl == nullptr) return;
  st_->rbio = BIO_new(BIO_s_mem());
  st_->wbio = BIO_new(BIO_s_mem());
  if (st_->rbio == nullptr || st_->wbio == nullptr) {
    BIO_free(st_->rbio);
    BIO_free(st_->wbio);
    SSL_free(st_->ssl);
    st_->ssl = nullptr;
    return;
  }
  BIO_set_mem_eof_return(st_->rbio, -1);  // empty = retry (more ciphertext may come)
  SSL_set_bio(st_->ssl, st_->rbio, st_->wbio);
  if (side == TlsSocket::Side::client) {
    SSL_set_connect_state(st_->ssl);
  } else {
    SSL_set_accept_state(st_->ssl);
  }
  SSL_set_mode(st_->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsOverStream::~TlsOverStream() = default;

SSL* TlsOverStream::ssl() { return st_->ssl; }

Task<Result<void>> TlsOverStream::handshake(std::chrono::milliseconds timeout) {
  auto st = st_;
  if (st->ssl == nullptr) co_return make_error("TLS: {}", openssl_error_text());
  auto ex = co_await asio::this_coro::executor;
  Watchdog dog(ex);
  dog.arm(timeout, [st] { st->inner->abort("TLS handshake timeout"); });
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(st->ssl);
    const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(st->ssl, rc);
    const bool sent = co_await st->flush();  // the server's flight (or an alert) goes out first
    if (dog.fired()) co_return make_error("TLS handshake timed out after {} ms", timeout.count());
    if (!sent) co_return make_error("TLS handshake: the connection closed");
    if (rc == 1) co_return Result<void>{};
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      const auto detail = ERR_peek_error() != 0 ? openssl_error_text() : std::string("connection closed by peer");
      co_return make_error("TLS handshake failed: {}", detail);
    }
    if (err == SSL_ERROR_WANT_WRITE) continue;  // flushed above
    const bool more = co_await st->fill();
    if (dog.fired()) co_return make_error("TLS handshake timed out after {} ms", timeout.count());
    if (!more && st->inner_eof && BIO_ctrl_pending(st->rbio) == 0) {
      // One more round: OpenSSL reports the unexpected end as an error with its own words.
      ERR_clear_error();
      if (SSL_do_handshake(st->ssl) == 1) co_return Result<void>{};
      co_return make_error("TLS handshake: the connection closed");
    }
  }
}

Task<Result<Chunk>> TlsOverStream::read() {
  auto st = st_;
  if (st->ssl == nullptr) co_return make_error("TLS: no session");
  Chunk c = Chunk::take();
  auto spare = c.spare();
  std::size_t got = 0;
  for (;;) {
    ERR_clear_error();
    std::size_t n = 0;
    const int rc = SSL_read_ex(st->ssl, spare.data() + got, spare.size() - got, &n);
    if (rc == 1) {
      got += n;
      if (got < spare.size() && (SSL_has_pending(st->ssl) == 1 || BIO_ctrl_pending(st->rbio) > 0)) continue;
      break;
    }
    const int err = SSL_get_error(st->ssl, rc);
    if (BIO_ctrl_pending(st->wbio) > 0) {
      const bool sent = co_await st->flush();  // what OpenSSL owes the peer (a key update, tickets)
      if (!sent && got == 0) co_return make_error("TLS read: the connection closed");
    }
    if (got > 0) break;  // report the data now; a close or an error shows on the next call
    if (err == SSL_ERROR_ZERO_RETURN) co_return Chunk{};
    if (err == SSL_ERROR_WANT_READ) {
      const bool more = co_await st->fill();
      if (!more && BIO_ctrl_pending(st->rbio) == 0) {
        // The inner stream ended without close_notify: an end all the same for a byte stream
        // (the relay's pump passes the visitor's FIN on); a truncation attack cannot make a
        // request look complete, because HTTP framing decides that.
        co_return Chunk{};
      }
      continue;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) co_return Chunk{};
    co_return make_error("TLS read: {}", openssl_error_text());
  }
  c.commit(got);
  co_return c;
}

Task<Result<void>> TlsOverStream::write(std::span<const std::uint8_t> bytes) {
  auto st = st_;
  if (st->ssl == nullptr) co_return make_error("TLS: no session");
  while (!bytes.empty()) {
    ERR_clear_error();
    std::size_t n = 0;
    if (SSL_write_ex(st->ssl, bytes.data(), bytes.size(), &n) != 1) {
      co_return make_error("TLS write: {}", openssl_error_text());
    }
    bytes = bytes.subspan(n);
  }
  const bool sent = co_await st->flush();
  if (!sent) co_return make_error("TLS write: the connection closed");
  co_return Result<void>{};
}

void TlsOverStream::shutdown_write() {
  auto st = st_;
  if (st->ssl == nullptr || st->fin_wanted) return;
  st->queue_close_notify();
  st->fin_wanted = true;
  if (st->flushing) return;  // the running flush sends it (and the FIN) after its bytes
  // Nothing on its way: send now, in the background. The coroutine holds the state, not this
  // object, and ends when the inner stream took the bytes or failed (an abort ends it too).
  asio::co_spawn(st->ex, flush_in_background(st), asio::detached);
}

Task<void> TlsOverStream::finish() {
  auto st = st_;
  if (st->ssl == nullptr) co_return;
  st->queue_close_notify();
  st->fin_wanted = true;
  co_await st->flush();
}

void TlsOverStream::abort(std::string_view reason) {
  if (st_->ssl != nullptr) SSL_set_shutdown(st_->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  st_->fin_sent = true;
  st_->inner->abort(reason);
}

}  // namespace porthole::net
