// A passive WebSocket frame reader (RFC 6455 section 5), sans I/O: it is fed the bytes of one
// direction of an upgraded connection as they pass and reports whole messages (fragments
// joined, control frames on their own, also between fragments) with their size and the first
// `preview` bytes of payload, unmasked. It never buffers a payload: memory is the 14-byte
// header, the preview and a 125-byte control payload, whatever the frame sizes (64-bit lengths).
// Input that breaks the RFC (reserved opcodes or bits, a control frame fragmented or over 125
// bytes, a continuation with no message, a new message inside a fragmented one, the wrong
// masking for the direction, a length with the top bit set, a 1-byte close payload) stops the
// reader: error() says why, later bytes are ignored. The bytes themselves are not changed or
// held back by it — the tunnel forwards them regardless.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace porthole::proto::ws {

enum Opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

struct Message {
  std::uint8_t opcode = 0;   // text, binary, close, ping, pong (never continuation)
  std::uint64_t size = 0;    // payload bytes, all fragments (saturates at 2^64-1)
  std::string preview;       // the first bytes of the payload, unmasked
  bool compressed = false;   // RSV1 on the first frame (permessage-deflate)
  int close_code = 0;        // close: the status code, 0 when the payload was empty
  std::uint32_t frames = 0;  // frames it took
};

class FrameReader {
 public:
  // `masked`: frames must be masked (the client's direction) or must not be (the server's).
  FrameReader(bool masked, std::size_t preview) : masked_(masked), preview_(preview) {}

  // Reads `bytes`; appends every message completed in them to `out`. False once failed.
  bool feed(std::span<const std::uint8_t> bytes, std::vector<Message>& out);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::uint64_t frames() const { return frames_; }

 private:
  bool header_done(std::vector<Message>& out);
  void payload(std::span<const std::uint8_t> bytes);
  void frame_done(std::vector<Message>& out);
  bool fail(std::string why);

  bool masked_;
  std::size_t preview_;
  std::string error_;
  std::uint64_t frames_ = 0;
  // The frame being read.
  std::array<std::uint8_t, 14> hdr_{};
  std::size_t hdr_len_ = 0;
  bool in_payload_ = false;
  bool fin_ = false;
  std::uint8_t opcode_ = 0;
  std::array<std::uint8_t, 4> key_{};
  bool has_key_ = false;
  std::uint64_t remaining_ = 0;  // payload bytes still to come
  std::uint64_t offset_ = 0;     // payload bytes read of this frame (for the mask)
  // The data message in progress (fragmented) and the control frame in progress.
  bool in_message_ = false;
  Message msg_;
  Message ctl_;
  std::string ctl_payload_;  // at most 125 bytes
};

}  // namespace porthole::proto::ws
