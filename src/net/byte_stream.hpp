// One abstraction for every kind of byte pipe (TCP, TLS, mux stream), so one pump() serves
// every kind of tunnel.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "net/buffer.hpp"

namespace porthole::net {

// The bytes of a string, for write().
inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  // Waits for bytes. Returns a chunk holding at least one byte, an empty chunk at end of
  // stream (the peer half-closed), or an error (reset, aborted, timed out).
  virtual Task<Result<Chunk>> read() = 0;
  // Writes every byte (waits for flow-control credit / socket space) or fails.
  virtual Task<Result<void>> write(std::span<const std::uint8_t> bytes) = 0;
  // Half-close: no more bytes from us (TCP FIN, mux FIN). Reads go on.
  virtual void shutdown_write() = 0;
  // write() then shutdown_write(); streams that can say both at once (a mux DATA frame with FIN)
  // do, which saves a frame and a send for every whole message.
  virtual Task<Result<void>> write_last(std::span<const std::uint8_t> bytes) {
    auto r = co_await write(bytes);
    if (r) shutdown_write();
    co_return r;
  }
  // Aborts both directions now (TCP RST, mux RESET); pending reads and writes fail.
  virtual void abort(std::string_view reason) = 0;
};

}  // namespace porthole::net
