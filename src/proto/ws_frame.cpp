#include "proto/ws_frame.hpp"

#include <algorithm>
#include <limits>

namespace porthole::proto::ws {

namespace {
bool is_control(std::uint8_t op) { return (op & 0x8) != 0; }
}  // namespace

bool FrameReader::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  return false;
}

bool FrameReader::feed(std::span<const std::uint8_t> bytes, std::vector<Message>& out) {
  while (!failed() && !bytes.empty()) {
    if (!in_payload_) {
      hdr_[hdr_len_++] = bytes.front();
      bytes = bytes.subspan(1);
      header_done(out);
      continue;
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size()));
    payload(bytes.first(n));
    bytes = bytes.subspan(n);
    remaining_ -= n;
    if (remaining_ == 0) frame_done(out);
  }
  return !failed();
}

// Called after each header byte: true once the header is whole (and checked).
bool FrameReader::header_done(std::vector<Message>& out) {
  if (hdr_len_ < 2) return false;
  const std::uint8_t b0 = hdr_[0], b1 = hdr_[1];
  const std::size_t len7 = b1 & 0x7f;
  const std::size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  const bool mask = (b1 & 0x80) != 0;
  const std::size_t need = 2 + ext + (mask ? 4 : 0);
  if (hdr_len_ == 2) {  // the first two bytes: check what they say before reading on
    fin_ = (b0 & 0x80) != 0;
    opcode_ = b0 & 0x0f;
    const bool rsv1 = (b0 & 0x40) != 0;
    if ((b0 & 0x30) != 0) return fail("RSV2/RSV3 set (no extension uses them)");
    if ((opcode_ > binary && opcode_ < close) || opcode_ > pong) {
      return fail("reserved opcode " + std::to_string(opcode_));
    }
    if (mask != masked_) return fail(masked_ ? "an unmasked frame from the client" : "a masked frame from the server");
    if (is_control(opcode_)) {
      if (!fin_) return fail("a fragmented control frame");
      if (len7 > 125) return fail("a control frame over 125 bytes");
      if (rsv1) return fail("RSV1 on a control frame");
    } else if (opcode_ == continuation) {
      if (!in_message_) return fail("a continuation frame with no message started");
      if (rsv1) return fail("RSV1 on a continuation frame");
    } else {
      if (in_message_) return fail("a new message inside a fragmented one");
    }
  }
  if (hdr_len_ < need) return false;
  std::uint64_t len = len7;
  if (ext == 2) len = (std::uint64_t{hdr_[2]} << 8) | hdr_[3];
  if (ext == 8) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | hdr_[2 + i];
    if ((len >> 63) != 0) return fail("a payload length with the most significant bit set");
  }
  has_key_ = mask;
  if (mask) std::copy_n(hdr_.begin() + static_cast<std::ptrdiff_t>(2 + ext), 4, key_.begin());
  ++frames_;
  remaining_ = len;
  offset_ = 0;
  hdr_len_ = 0;
  if (is_control(opcode_)) {
    ctl_ = Message{};
    ctl_.opcode = opcode_;
    ctl_.size = len;
    ctl_.frames = 1;
    ctl_payload_.clear();
  } else if (opcode_ != continuation) {
    msg_ = Message{};
    msg_.opcode = opcode_;
    msg_.compressed = (hdr_[0] & 0x40) != 0;
    in_message_ = true;
  }
  if (!is_control(opcode_)) {
    msg_.size = len > std::numeric_limits<std::uint64_t>::max() - msg_.size ? std::numeric_limits<std::uint64_t>::max()
                                                                           : msg_.size + len;
    ++msg_.frames;
  }
  in_payload_ = true;
  if (remaining_ == 0) frame_done(out);
  return true;
}

void FrameReader::payload(std::span<const std::uint8_t> bytes) {
  const bool control = is_control(opcode_);
  std::string& into = control ? ctl_payload_ : msg_.preview;
  const std::size_t cap = control ? 125 : preview_;
  const auto n = std::min(bytes.size(), cap > into.size() ? cap - into.size() : 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t b = bytes[i];
    if (has_key_) b ^= key_[(offset_ + i) & 3];
    into += static_cast<char>(b);
  }
  offset_ += bytes.size();
}

void FrameReader::frame_done(std::vector<Message>& out) {
  in_payload_ = false;
  if (is_control(opcode_)) {
    if (opcode_ == close) {
      if (ctl_payload_.size() == 1) {
        fail("a close frame with a 1-byte payload");
        return;
      }
      if (ctl_payload_.size() >= 2) {
        ctl_.close_code = (static_cast<unsigned char>(ctl_payload_[0]) << 8) | static_cast<unsigned char>(ctl_payload_[1]);
      }
    }
    ctl_.preview = ctl_payload_.substr(0, preview_);
    out.push_back(std::move(ctl_));
    ctl_ = Message{};
    return;
  }
  if (fin_) {
    out.push_back(std::move(msg_));
    msg_ = Message{};
    in_message_ = false;
  }
}

}  // namespace porthole::proto::ws
