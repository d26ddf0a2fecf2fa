// TLS on a TCP socket, driven through OpenSSL over a small BIO of our own (tls_socket.cpp):
// reads take up to 64 KiB of records per read(2); writes collect records and send them with
// one send(2) per batch, so TCP builds full-size segments instead of one per 16 KiB record.
// One reader and one writer coroutine may use it at the same time (on one executor).
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "net/buffer.hpp"

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
  // Ciphertext already read from the socket (a sniffed ClientHello): OpenSSL reads it first.
  void preload(std::span<const std::uint8_t> bytes) { pre_.assign(bytes.begin(), bytes.end()); }
  tcp::socket& socket() { return socket_; }

  // Runs the handshake; fails on error or after `timeout`.
  Task<Result<void>> handshake(std::chrono::milliseconds timeout);
  // Reads up to buf.size() bytes; 0 means the peer closed the TLS session.
  Task<Result<std::size_t>> read_some(std::span<std::uint8_t> buf);
  // Encrypts every byte and sends what the socket takes now, without waiting; the rest stays
  // pending for flush(). Fails only on a TLS error or a dead connection.
  Result<void> write_now(std::span<const std::uint8_t> bytes);
  // Waits until every pending encrypted byte is sent; false when the connection is gone.
  Task<bool> flush();
  // Encrypted bytes not yet sent (a flush() is needed, or running).
  std::size_t pending() const { return pending_.size() - pending_sent_ + sending_.size(); }
  // Sends close_notify (best effort) and closes the socket; pending operations fail.
  void close();
  bool is_open() const { return socket_.is_open(); }

 private:
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  friend struct TlsBio;
  // Sends what the socket takes of pending_ now; false on a send error other than EAGAIN.
  bool send_pending_now();
  // Reads ciphertext from the socket into in_ for OpenSSL; false when the connection ended.
  Task<bool> fill();

  tcp::socket socket_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::vector<std::uint8_t> pending_;   // encrypted, not yet handed to flush()
  std::size_t pending_sent_ = 0;        // bytes at the front of pending_ already sent
  std::vector<std::uint8_t> sending_;   // being written by flush()
  bool flushing_ = false;
  std::vector<std::uint8_t> pre_;  // preload()ed ciphertext, taken before in_
  std::size_t pre_pos_ = 0;
  Chunk in_;                  // ciphertext read from the socket, not yet taken by OpenSSL
  bool in_eof_ = false;       // the socket ended (or failed): OpenSSL gets end of stream
  bool maybe_more_ = false;   // the last read(2) filled its buffer: read again before waiting
};

// The most recent OpenSSL error as text (and clears the queue).
std::string openssl_error_text();

}  // namespace porthole::net
