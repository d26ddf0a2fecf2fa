// Copies bytes both ways between two ByteStreams until both directions are done.
// Half-close propagates: end of stream on one side becomes shutdown_write() on the other,
// and the opposite direction keeps flowing. An error on either side aborts both.
#pragma once

#include <cstdint>
#include <string>

#include "net/byte_stream.hpp"

namespace porthole::net {

struct PumpResult {
  std::uint64_t a_to_b = 0;
  std::uint64_t b_to_a = 0;
  std::string error;  // empty when both sides ended cleanly
};

Task<PumpResult> pump(ByteStream& a, ByteStream& b);

}  // namespace porthole::net
