// TLS over any ByteStream (not a socket): the agent's end of a TLS connection whose bytes come
// through a mux stream (`porthole http --terminate-at agent`: the relay passes the visitor's
// TLS through, the agent holds the key). OpenSSL runs over a pair of memory BIOs; this class
// moves ciphertext between them and the inner stream. One reader and one writer coroutine may
// use it at the same time, on one executor.
//
// TlsSocket (tls_socket.hpp) is the socket-specific engine for the hot paths (one send(2) per
// batch, non-blocking sends from inside OpenSSL's calls); a ByteStream has no "send what it
// takes now", so this one always awaits the inner write, and needs no buffers of its own.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include <openssl/ssl.h>

#include "net/byte_stream.hpp"
#include "net/tls_socket.hpp"

namespace porthole::net {

class TlsOverStream final : public ByteStream {
 public:
  // `inner` carries the ciphertext; `ctx` makes the session (prepare it through ssl() before the
  // handshake); `ex` is the executor the inner stream's coroutines run on.
  TlsOverStream(std::shared_ptr<ByteStream> inner, SSL_CTX* ctx, TlsSocket::Side side, const Executor& ex);
  ~TlsOverStream() override;

  // Runs the handshake; fails on a TLS error, the inner stream's end, or after `timeout`.
  Task<Result<void>> handshake(std::chrono::milliseconds timeout);
  // Decrypted bytes; an empty chunk at close_notify or at the inner stream's end.
  Task<Result<Chunk>> read() override;
  // Encrypts and writes every byte to the inner stream.
  Task<Result<void>> write(std::span<const std::uint8_t> bytes) override;
  // close_notify, then the inner stream's FIN, sent at once (in the background when a write is
  // on its way; it goes after that write's bytes).
  void shutdown_write() override;
  // close_notify and FIN, awaited (the end of a served connection).
  Task<void> finish();
  // Aborts the inner stream (no close_notify).
  void abort(std::string_view reason) override;

  SSL* ssl();

  struct State;  // (public for the background flush in the .cpp)

 private:
  std::shared_ptr<State> st_;
};

}  // namespace porthole::net
