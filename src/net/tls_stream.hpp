// ByteStream over the client side of a TlsSocket: an http tunnel's connection to a local
// service that speaks TLS (--upstream https). One reader and one writer coroutine may use it at
// the same time, on one executor (as TlsSocket allows).
#pragma once

#include <chrono>

#include <openssl/ssl.h>

#include "net/byte_stream.hpp"
#include "net/tls_socket.hpp"

namespace porthole::net {

class TlsStream final : public ByteStream {
 public:
  // Takes the connected socket; the session comes from `ctx` (prepare it through tls().ssl()
  // before the handshake: SNI, the expected name).
  TlsStream(tcp::socket socket, SSL_CTX* ctx, TlsSocket::Side side = TlsSocket::Side::client);

  // Runs the handshake (client or server side); fails on a TLS error or after `timeout`.
  Task<Result<void>> handshake(std::chrono::milliseconds timeout) { return tls_.handshake(timeout); }

  // Waits for readability before taking a pooled chunk (unless OpenSSL already holds bytes), so
  // a connection waiting for its response holds no buffer. An empty chunk at close_notify.
  Task<Result<Chunk>> read() override;
  // Encrypts and sends every byte (waits until the socket took them all).
  Task<Result<void>> write(std::span<const std::uint8_t> bytes) override;
  // Sends close_notify (best effort, no wait); reads go on.
  void shutdown_write() override;
  // Closes at once without close_notify and with a TCP RST, so the service sees a failure and
  // not a clean end; pending reads and writes fail.
  void abort(std::string_view reason) override;

  TlsSocket& tls() { return tls_; }
  // Decrypted or undecrypted bytes already taken from the socket (not visible to a peek on it).
  bool has_buffered_input();

 private:
  TlsSocket tls_;
};

}  // namespace porthole::net
