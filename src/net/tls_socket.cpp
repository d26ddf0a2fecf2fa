#include "net/tls_socket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <openssl/err.h>

#include "net/tcp_stream.hpp"

namespace porthole::net {

using namespace asio::experimental::awaitable_operators;

namespace {

// OpenSSL's read-ahead buffer: one read(2) takes up to this many bytes of records.
constexpr std::size_t kReadAhead = 128 * 1024;

}  // namespace

// The write side of the TLS connection: a BIO that appends records to TlsSocket::pending_.
// It never blocks, so SSL_write never asks to be retried; flush() does the waiting.
struct WriteBio {
  static int write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
    auto* self = static_cast<TlsSocket*>(BIO_get_data(bio));
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    self->pending_.insert(self->pending_.end(), p, p + len);
    *written = len;
    return 1;
  }
  static long ctrl(BIO* bio, int cmd, long, void*) {
    switch (cmd) {
      case BIO_CTRL_FLUSH: return 1;
      case BIO_CTRL_WPENDING:
      case BIO_CTRL_PENDING: return static_cast<long>(static_cast<TlsSocket*>(BIO_get_data(bio))->pending_.size());
      default: return 0;
    }
  }
  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }
  static const BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      auto* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "porthole-write");
      BIO_meth_set_write_ex(meth, &WriteBio::write);
      BIO_meth_set_ctrl(meth, &WriteBio::ctrl);
      BIO_meth_set_create(meth, &WriteBio::create);
      return meth;
    }();
    return m;
  }
};

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
  if (!ssl_) return;
  BIO* rbio = BIO_new_socket(static_cast<int>(socket_.native_handle()), BIO_NOCLOSE);
  BIO* wbio = BIO_new(WriteBio::method());
  if (!rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    ssl_.reset();
    return;
  }
  BIO_set_data(wbio, this);
  BIO_set_callback_arg(rbio, reinterpret_cast<char*>(this));
  BIO_set_callback_ex(rbio, &TlsSocket::on_socket_read);
  SSL_set_bio(ssl_.get(), rbio, wbio);
  if (side == Side::client) {
    SSL_set_connect_state(ssl_.get());
  } else {
    SSL_set_accept_state(ssl_.get());
  }
  SSL_set_read_ahead(ssl_.get(), 1);
  SSL_set_default_read_buffer_len(ssl_.get(), kReadAhead);
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsSocket::~TlsSocket() { close(); }

long TlsSocket::on_socket_read(BIO* bio, int oper, const char*, std::size_t len, int, long, int ret,
                               std::size_t* processed) {
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    // Fewer bytes than OpenSSL asked for (or none): the socket is most likely empty now.
    auto* self = reinterpret_cast<TlsSocket*>(BIO_get_callback_arg(bio));
    self->drained_ = ret <= 0 || (processed && *processed < len);
  }
  return ret;
}

Task<bool> TlsSocket::flush() {
  if (flushing_) co_return socket_.is_open();  // the other coroutine is sending; it takes ours too
  flushing_ = true;
  bool ok = true;
  while (ok && pending_.size() > pending_sent_) {
    // Swap, so that OpenSSL may append to pending_ while this batch is on its way.
    sending_.swap(pending_);
    const auto from = std::exchange(pending_sent_, 0);
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(sending_.data() + from, sending_.size() - from),
                                              use_nothrow);
    ok = !ec;
    sending_.clear();
  }
  flushing_ = false;
  co_return ok && socket_.is_open();
}

bool TlsSocket::send_pending_now() {
  if (flushing_ || !socket_.is_open()) return socket_.is_open();
  while (pending_sent_ < pending_.size()) {
    const auto n = ::send(socket_.native_handle(), pending_.data() + pending_sent_, pending_.size() - pending_sent_,
                          MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    pending_sent_ += static_cast<std::size_t>(n);
  }
  pending_.clear();
  pending_sent_ = 0;
  return true;
}

Task<Result<void>> TlsSocket::handshake(std::chrono::milliseconds timeout) {
  if (!ssl_) co_return make_error("TLS: {}", openssl_error_text());
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer timer(ex, std::chrono::steady_clock::now() + timeout);
  for (;;) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(ssl_.get());
    const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), rc);
    if (!pending_.empty()) {
      auto sent = co_await (flush() || timer.async_wait(use_nothrow));
      if (sent.index() == 1) co_return make_error("TLS handshake timed out after {} ms", timeout.count());
      if (!std::get<0>(sent)) co_return make_error("TLS handshake: connection closed");
    }
    if (rc == 1) co_return Result<void>{};
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      if (err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) {
        auto detail = ERR_peek_error() ? openssl_error_text() : std::string("connection closed by peer");
        co_return make_error("TLS handshake failed: {}", detail);
      }
      co_return make_error("TLS handshake failed: {}", openssl_error_text());
    }
    if (err == SSL_ERROR_WANT_WRITE) continue;  // flushed above
    auto r = co_await (socket_.async_wait(tcp::socket::wait_read, use_nothrow) || timer.async_wait(use_nothrow));
    if (r.index() == 1) co_return make_error("TLS handshake timed out after {} ms", timeout.count());
    if (std::get<0>(std::get<0>(r)) || !socket_.is_open()) co_return make_error("TLS handshake: connection closed");
  }
}

Task<Result<std::size_t>> TlsSocket::read_some(std::span<std::uint8_t> buf) {
  std::size_t got = 0;
  for (;;) {
    if (!socket_.is_open()) co_return make_error("connection closed");
    if (drained_ && !SSL_has_pending(ssl_.get())) {
      // The last read(2) emptied the socket: wait before trying (saves a read that would only
      // say EAGAIN). Waiting re-arms the descriptor, so bytes that came meanwhile still count.
      auto [ec] = co_await socket_.async_wait(tcp::socket::wait_read, use_nothrow);
      if (ec || !socket_.is_open()) co_return make_error("connection closed");
      drained_ = false;
    }
    ERR_clear_error();
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_.get(), buf.data() + got, buf.size() - got, &n);
    if (rc == 1) {
      // One call yields at most one TLS record (16 KiB): keep taking what is already here,
      // so the mux sees whole frames and stages (copies) nothing.
      // Stop when OpenSSL holds no more bytes: another read(2) now would most likely only
      // say EAGAIN, and the next call makes it anyway.
      got += n;
      if (got < buf.size() && SSL_has_pending(ssl_.get())) continue;
      co_return got;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    send_pending_now();  // e.g. a reply OpenSSL owes the peer (key update)
    if (got > 0) co_return got;  // report the data now; a close or error shows up on the next call
    if (err == SSL_ERROR_ZERO_RETURN) co_return std::size_t{0};
    if (err == SSL_ERROR_WANT_READ) {
      drained_ = true;  // waits at the top of the loop
      continue;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) co_return make_error("connection lost");
    co_return make_error("TLS read: {}", openssl_error_text());
  }
}

Result<void> TlsSocket::write_now(std::span<const std::uint8_t> bytes) {
  while (!bytes.empty()) {
    if (!socket_.is_open()) return make_error("connection closed");
    ERR_clear_error();
    std::size_t n = 0;
    if (const int rc = SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &n); rc != 1) {
      const int err = SSL_get_error(ssl_.get(), rc);
      if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return make_error("connection lost");
      return make_error("TLS write: {}", openssl_error_text());
    }
    bytes = bytes.subspan(n);
  }
  if (!send_pending_now()) return make_error("connection lost");
  return {};
}

void TlsSocket::close() {
  if (!socket_.is_open()) return;
  if (ssl_ && SSL_is_init_finished(ssl_.get())) {
    SSL_set_quiet_shutdown(ssl_.get(), 0);
    ERR_clear_error();
    SSL_shutdown(ssl_.get());  // best effort close_notify, sent below if the socket takes it
    ERR_clear_error();
    send_pending_now();
  }
  error_code ec;
  socket_.close(ec);
}

}  // namespace porthole::net
