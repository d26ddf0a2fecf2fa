// Fuzz target: the passive WebSocket frame reader (src/proto/ws_frame.cpp), fed as the agent
// feeds it: one direction of an upgraded connection in pieces of any size. The first byte
// picks the direction (masked or not), the preview size and the piece sizes. Checks, besides
// memory safety:
//  - any split gives the same messages and the same error as the whole input at once;
//  - previews never exceed the limit; no message is a continuation; control frames are <= 125
//    bytes; a close code is 0 or came from a payload of at least 2 bytes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "proto/ws_frame.hpp"

namespace ws = porthole::proto::ws;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t seed = data[0];
  const bool masked = (seed & 1) != 0;
  const std::size_t preview = (seed >> 1) & 0x3f;
  std::span<const std::uint8_t> in(data + 1, size - 1);
  ws::FrameReader whole(masked, preview);
  std::vector<ws::Message> a;
  whole.feed(in, a);
  ws::FrameReader pieces(masked, preview);
  std::vector<ws::Message> b;
  std::uint32_t rng = seed * 2654435761u + 7;
  for (std::size_t have = 0; have < in.size();) {
    rng = rng * 1103515245u + 12345u;
    const std::size_t n = std::min(in.size() - have, std::size_t{1} + (rng >> 16) % 32);
    pieces.feed(in.subspan(have, n), b);
    have += n;
  }
  if (a.size() != b.size() || whole.error() != pieces.error() || whole.frames() != pieces.frames()) std::abort();
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& m = a[i];
    if (m.opcode != b[i].opcode || m.size != b[i].size || m.preview != b[i].preview ||
        m.close_code != b[i].close_code || m.compressed != b[i].compressed) {
      std::abort();
    }
    if (m.preview.size() > preview || m.opcode == ws::continuation) std::abort();
    if ((m.opcode & 0x8) != 0 && m.size > 125) std::abort();
    if (m.close_code != 0 && (m.opcode != ws::close || m.size < 2)) std::abort();
    if (m.preview.size() > m.size) std::abort();
  }
  return 0;
}
