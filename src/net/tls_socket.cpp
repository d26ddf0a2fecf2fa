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
// Output buffers keep at most this much capacity once drained (a burst may grow them to MiBs).
constexpr std::size_t kKeepCapacity = 256 * 1024;
}  // namespace

// The transport under OpenSSL: a BIO over TlsSocket's own buffers. Reads hand OpenSSL the
// ciphertext fill() read from the socket (one read(2) of up to 64 KiB for many records; OpenSSL's
// own read-ahead is not used, because OpenSSL 3.0 moves every unread byte of its buffer to the
// front at the start of each record, which costs more than the data). Writes append records to
// pending_, sent with one send(2) per batch. It never blocks: an empty input says "retry", and
// TlsSocket does the waiting.
struct TlsBio {
  static TlsSocket& of(BIO* bio) { return *static_cast<TlsSocket*>(BIO_get_data(bio)); }
  static int write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    of(bio).pending_.insert(of(bio).pending_.end(), p, p + len);
    *written = len;
    return 1;
  }
  static int read(BIO* bio, char* data, std::size_t len, std::size_t* got) {
    auto& self = of(bio);
    BIO_clear_retry_flags(bio);
    if (self.pre_pos_ < self.pre_.size()) {
      const auto n = std::min(len, self.pre_.size() - self.pre_pos_);
      std::memcpy(data, self.pre_.data() + self.pre_pos_, n);
      self.pre_pos_ += n;
      if (self.pre_pos_ == self.pre_.size()) {
        std::vector<std::uint8_t>().swap(self.pre_);
        self.pre_pos_ = 0;
      }
      *got = n;
      return 1;
    }
    if (self.in_.empty()) {
      if (!self.in_eof_) BIO_set_retry_read(bio);  // else: end of stream (or a read error)
      return 0;
    }
    const auto n = std::min(len, self.in_.size());
    std::memcpy(data, self.in_.bytes().data(), n);
    self.in_.consume(n);
    if (self.in_.empty()) self.in_ = Chunk{};  // back to the pool: an idle session holds none
    *got = n;
    return 1;
  }
  static long ctrl(BIO* bio, int cmd, long, void*) {
    switch (cmd) {
      case BIO_CTRL_FLUSH: return 1;
      case BIO_CTRL_PENDING: return static_cast<long>(of(bio).in_.size() + of(bio).pre_.size() - of(bio).pre_pos_);
      case BIO_CTRL_WPENDING: return static_cast<long>(of(bio).pending_.size());
      case BIO_CTRL_EOF:
        return of(bio).in_eof_ && of(bio).in_.empty() && of(bio).pre_pos_ == of(bio).pre_.size() ? 1 : 0;
      default: return 0;
    }
  }
  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }
  static const BIO_METHOD* method() {
    static BIO_METHOD* m = [] {
      auto* meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "porthole-tls");
      BIO_meth_set_write_ex(meth, &TlsBio::write);
      BIO_meth_set_read_ex(meth, &TlsBio::read);
      BIO_meth_set_ctrl(meth, &TlsBio::ctrl);
      BIO_meth_set_create(meth, &TlsBio::create);
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
  BIO* bio = BIO_new(TlsBio::method());
  if (!bio) {
    ssl_.reset();
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO, both directions (SSL takes both references)
  if (side == Side::client) {
    SSL_set_connect_state(ssl_.get());
  } else {
    SSL_set_accept_state(ssl_.get());
  }
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsSocket::~TlsSocket() { close(); }

Task<bool> TlsSocket::fill() {
  auto c = co_await read_chunk(socket_, maybe_more_);
  if (!c || c->empty()) {  // end of stream or a read error: OpenSSL sees the end and reports it
    in_eof_ = true;
    co_return false;
  }
  in_ = std::move(*c);
  co_return true;
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
  if (sending_.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(sending_);  // drained
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
  if (pending_.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(pending_);  // after a burst
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
    auto r = co_await (fill() || timer.async_wait(use_nothrow));
    if (r.index() == 1) co_return make_error("TLS handshake timed out after {} ms", timeout.count());
    // A closed connection: the next SSL_do_handshake() sees the end of stream and says so.
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
      // One call yields at most one TLS record (16 KiB): keep taking what is already here,
      // so the mux sees whole frames and stages (copies) little.
      got += n;
      if (got < buf.size() && (!in_.empty() || SSL_has_pending(ssl_.get()))) continue;
      co_return got;
    }
    const int err = SSL_get_error(ssl_.get(), rc);
    send_pending_now();  // e.g. a reply OpenSSL owes the peer (key update)
    if (got > 0) co_return got;  // report the data now; a close or error shows up on the next call
    if (err == SSL_ERROR_ZERO_RETURN) co_return std::size_t{0};
    if (err == SSL_ERROR_WANT_READ) {
      co_await fill();  // false: the connection ended, which the next SSL_read_ex() reports
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
