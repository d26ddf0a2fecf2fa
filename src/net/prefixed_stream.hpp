// A ByteStream that first hands out bytes already read from `inner` (by a sniffer or a
// message reader), then reads from `inner`: nothing sniffed is parsed twice or lost.
#pragma once

#include <cstring>
#include <vector>

#include "net/byte_stream.hpp"

namespace porthole::net {

class PrefixedStream final : public ByteStream {
 public:
  PrefixedStream(ByteStream& inner, std::span<const std::uint8_t> prefix)
      : inner_(inner), prefix_(prefix.begin(), prefix.end()) {}

  Task<Result<Chunk>> read() override {
    if (prefix_.empty()) return inner_.read();
    return take_prefix();
  }
  Task<Result<void>> write(std::span<const std::uint8_t> bytes) override { return inner_.write(bytes); }
  void shutdown_write() override { inner_.shutdown_write(); }
  void abort(std::string_view reason) override { inner_.abort(reason); }

 private:
  Task<Result<Chunk>> take_prefix() {
    Chunk c = Chunk::take(prefix_.size());
    const auto n = std::min(c.spare().size(), prefix_.size());
    std::memcpy(c.spare().data(), prefix_.data(), n);
    c.commit(n);
    prefix_.erase(prefix_.begin(), prefix_.begin() + static_cast<std::ptrdiff_t>(n));
    co_return c;
  }

  ByteStream& inner_;
  std::vector<std::uint8_t> prefix_;
};

}  // namespace porthole::net
