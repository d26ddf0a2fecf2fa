// The session frame: a 12-byte header and a payload. See docs/protocol.md.
//
//   0       1       2       3       4       5       6       7       8       9      10      11
//   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
//   |version| type  |  flags (u16)  |       stream id (u32)         |       length (u32)            |
//   +-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+-------+
// All integers big-endian. Sans-I/O: bytes in, headers and payload spans out.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::proto {

using StreamId = std::uint32_t;

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 12;

enum class FrameType : std::uint8_t {
  data = 0,     // stream bytes; flag fin = no more bytes from the sender
  open = 1,     // opens a stream; payload = open metadata (JSON)
  window = 2,   // payload u32: more bytes the receiver accepts on the stream
  reset = 3,    // aborts a stream; payload = u32 code + reason text
  ping = 4,     // stream 0; payload 8 bytes; flag ack on the answer
  control = 5,  // stream 0; payload = one control message (JSON)
  goaway = 6,   // stream 0; payload = u32 code + reason text; the sender closes after it
  datagram = 7, // one whole UDP datagram of a flow stream (kind "udp"); no flow control, may be dropped
};
inline constexpr std::uint8_t kMaxFrameType = 7;

// The largest UDP payload over IPv4 (65,535 - 8 - 20): what a DATAGRAM frame may carry.
inline constexpr std::uint32_t kMaxDatagram = 65507;

inline constexpr std::uint16_t kFlagFin = 0x1;
inline constexpr std::uint16_t kFlagAck = 0x2;

struct FrameHeader {
  FrameType type = FrameType::data;
  std::uint16_t flags = 0;
  StreamId stream = 0;
  std::uint32_t length = 0;
};

struct Limits {
  std::uint32_t max_data_payload = 64 * 1024;     // DATA frames
  std::uint32_t max_control_payload = 64 * 1024;  // OPEN, CONTROL, RESET, GOAWAY
  std::uint32_t max_datagram_payload = kMaxDatagram;  // DATAGRAM
};

std::string_view frame_type_name(FrameType t);

void encode_header(std::uint8_t* out, const FrameHeader& h);

// Appends one whole frame to `out`.
void append_frame(std::vector<std::uint8_t>& out, const FrameHeader& h, std::span<const std::uint8_t> payload);
void append_frame(std::vector<std::uint8_t>& out, FrameType type, std::uint16_t flags, StreamId stream,
                  std::string_view payload);

// Validates a header: version, type, flags, stream id rules and the payload length limit.
Result<FrameHeader> decode_header(std::span<const std::uint8_t, kHeaderSize> bytes, const Limits& limits);

// Splits a byte stream into frames. Whole frames are handed out as spans into the fed
// buffer (no copy); only a frame split across feeds is staged internally, and only after its
// header was validated, so a hostile length never causes a large allocation.
class FrameDecoder {
 public:
  using Sink = std::function<Result<void>(const FrameHeader&, std::span<const std::uint8_t>)>;
  explicit FrameDecoder(Limits limits = {}) : limits_(limits) {}

  // Feeds bytes; calls `sink` once per complete frame. Stops at the first error
  // (from the decoder or the sink); the session must then be closed.
  Result<void> feed(std::span<const std::uint8_t> bytes, const Sink& sink);

  std::size_t buffered() const { return staged_.size(); }

 private:
  Limits limits_;
  std::vector<std::uint8_t> staged_;  // bytes of an incomplete frame (header first)
  std::optional<FrameHeader> staged_header_;
};

// Helpers for the u32-code + text payloads of RESET and GOAWAY.
std::vector<std::uint8_t> encode_code_reason(std::uint32_t code, std::string_view reason);
struct CodeReason {
  std::uint32_t code = 0;
  std::string_view reason;
};
Result<CodeReason> decode_code_reason(std::span<const std::uint8_t> payload);

std::uint32_t load_u32(const std::uint8_t* p);
void store_u32(std::uint8_t* p, std::uint32_t v);

}  // namespace porthole::proto
