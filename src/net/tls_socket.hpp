// TLS on a TCP socket, driven directly through OpenSSL on the socket's descriptor (no BIO pair
// copies): reads and writes go from OpenSSL straight to the kernel. One reader and one writer
// coroutine may use it at the same time (on one executor).
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>

#include <openssl/ssl.h>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::net {

class TlsSocket {
 public:
  enum class Side { client, server };
  // Takes the socket; `ctx` is the SSL_CTX to create the session from.
  TlsSocket(tcp::socket socket, SSL_CTX* ctx, Side side);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  SSL* ssl() { return ssl_.get(); }
  tcp::socket& socket() { return socket_; }

  // Runs the handshake; fails on error or after `timeout`.
  Task<Result<void>> handshake(std::chrono::milliseconds timeout);
  // Reads up to buf.size() bytes; 0 means the peer closed the TLS session.
  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf);
  // Writes every byte.
  Task<Result<void>> write_all(std::span<const std::uint8_t> bytes);
  // Sends close_notify (best effort) and closes the socket; pending operations fail.
  void close();
  bool is_open() const { return socket_.is_open(); }

 private:
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  // Waits for the socket condition OpenSSL asked for; false on error/close.
  Task<bool> wait_for(int ssl_error);

  tcp::socket socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
};

// The most recent OpenSSL error as text (and clears the queue).
std::string openssl_error_text();

}  // namespace porthole::net
