// ByteStream over a TCP socket (visitor connections, local services).
#pragma once

#include <chrono>
#include <string>

#include "net/byte_stream.hpp"

namespace porthole::net {

// Sets TCP_NODELAY and non-blocking mode; every data-path TCP socket goes through this.
void tune_socket(tcp::socket& s);

class TcpStream final : public ByteStream {
 public:
  explicit TcpStream(tcp::socket socket);
  ~TcpStream() override;

  Task<Result<Chunk>> read() override;
  Task<Result<void>> write(std::span<const std::uint8_t> bytes) override;
  void shutdown_write() override;
  void abort(std::string_view reason) override;

  tcp::socket& socket() { return socket_; }

 private:
  tcp::socket socket_;
  bool maybe_more_ = false;  // the last read filled its buffer: read again before waiting
};

// Reads what `socket` has into a pooled chunk; waits for readability first unless `maybe_more`
// (the last read filled its chunk, so more is likely there). An empty chunk at end of stream.
Task<Result<Chunk>> read_chunk(tcp::socket& socket, bool& maybe_more);

// Resolves `host` and connects to the first address that answers, within `timeout`.
// TcpStream and TlsSocket tune the socket (TCP_NODELAY, non-blocking) when they take it.
Task<Result<tcp::socket>> dial(std::string host, std::uint16_t port, std::chrono::milliseconds timeout);

// "1.2.3.4:5" / "[::1]:5" for an endpoint.
std::string format_endpoint(const tcp::endpoint& ep);

}  // namespace porthole::net
