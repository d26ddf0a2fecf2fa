#include "agent/local_pool.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "net/tcp_stream.hpp"
#include "net/tls_context.hpp"
#include "net/tls_stream.hpp"
#include "net/unix_socket.hpp"

namespace porthole::agent {

namespace {

constexpr auto kDialTimeout = std::chrono::seconds(5);
constexpr auto kHandshakeTimeout = std::chrono::milliseconds(5000);

// Nothing to read on the socket: the service has not closed (or reset) the idle connection,
// and sent nothing unasked.
bool socket_quiet(int fd) {
  std::uint8_t b;
  const auto n = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool still_usable(net::ByteStream& c) {
  if (auto* tcp = dynamic_cast<net::TcpStream*>(&c)) return socket_quiet(tcp->socket().native_handle());
  if (auto* tls = dynamic_cast<net::TlsStream*>(&c)) {
    // Bytes OpenSSL already took from the socket count too (a close_notify, unasked data).
    return tls->tls().is_open() && !tls->has_buffered_input() &&
           socket_quiet(tls->tls().socket().native_handle());
  }
  return false;
}

// OpenSSL's reason for a failed handshake: the certificate's verification result when that was
// it, else TlsSocket's message without its "TLS handshake failed: " prefix.
std::string handshake_failure(SSL* ssl, std::string message) {
  if (auto why = net::upstream_verify_failure(ssl); !why.empty()) return why;
  for (std::string_view prefix : {"TLS handshake failed: ", "TLS handshake: "}) {
    if (message.starts_with(prefix)) message.erase(0, prefix.size());
  }
  return message;
}

}  // namespace

net::Task<Result<std::unique_ptr<net::ByteStream>>> LocalPool::acquire(bool& reused, std::string preamble) {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = idle_.end(); it != idle_.begin();) {  // most recently used first
    --it;
    if (it->preamble != preamble) continue;
    auto entry = std::move(*it);
    it = idle_.erase(it);
    if (now - entry.since < idle_timeout_ && still_usable(*entry.conn)) {
      reused = true;
      co_return std::move(entry.conn);
    }
  }
  reused = false;
  ++dials_;
  auto sock = co_await net::dial_local(target_, kDialTimeout);  // HOST:PORT or unix:/path
  if (!sock) co_return sock.error();
  if (!preamble.empty()) {
    // Before anything else, TLS included: the PROXY header belongs to the TCP connection.
    auto [ec, n] = co_await net::asio::async_write(*sock, net::asio::buffer(preamble), net::use_nothrow);
    if (ec) co_return make_error(Errc::refused, "{}: {}", format_host_port(target_), ec.message());
  }
  if (!upstream_.tls) {
    co_return std::unique_ptr<net::ByteStream>(std::make_unique<net::TcpStream>(std::move(*sock)));
  }
  auto tls = co_await connect_tls(std::move(*sock));
  co_return std::move(tls);
}

net::Task<Result<std::unique_ptr<net::ByteStream>>> LocalPool::connect_tls(net::tcp::socket sock) {
  const auto addr = format_host_port(target_);
  if (!tls_ctx_) {
    auto ctx = net::make_upstream_context(upstream_.insecure);
    if (!ctx) co_return make_error(Errc::refused, "TLS to {}: {}", addr, ctx.error().message);
    tls_ctx_ = std::move(*ctx);
  }
  auto conn = std::make_unique<net::TlsStream>(std::move(sock), tls_ctx_->native_handle());
  SSL* ssl = conn->tls().ssl();
  if (ssl == nullptr) co_return make_error(Errc::refused, "TLS to {}: {}", addr, net::openssl_error_text());
  // A unix socket has no host name to verify or send as SNI: "localhost" stands in.
  const std::string host = is_unix_address(target_) ? "localhost" : target_.host;
  auto prepared = net::prepare_upstream_ssl(ssl, host, !upstream_.insecure);
  if (!prepared) co_return make_error(Errc::refused, "TLS to {}: {}", addr, prepared.error().message);
  const auto start = std::chrono::steady_clock::now();
  auto hs = co_await conn->handshake(kHandshakeTimeout);
  if (!hs) {
    if (std::chrono::steady_clock::now() - start >= kHandshakeTimeout) {
      co_return make_error(Errc::timed_out, "TLS handshake with {} timed out after {} s", addr,
                           std::chrono::duration_cast<std::chrono::seconds>(kHandshakeTimeout).count());
    }
    const auto why = handshake_failure(ssl, hs.error().message);
    co_return make_error(Errc::refused, "TLS handshake with {} failed: {}", addr, why);
  }
  co_return std::unique_ptr<net::ByteStream>(std::move(conn));
}

void LocalPool::release(std::unique_ptr<net::ByteStream> conn, std::string preamble) {
  const auto now = std::chrono::steady_clock::now();
  while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) idle_.pop_front();
  if (idle_.size() >= max_idle_) idle_.pop_front();
  idle_.push_back(Idle{std::move(conn), now, std::move(preamble)});
}

}  // namespace porthole::agent
