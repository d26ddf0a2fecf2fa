#include "proto/frame.hpp"

#include <algorithm>
#include <cstring>

namespace porthole::proto {

std::uint32_t load_u32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

void store_u32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

std::string_view frame_type_name(FrameType t) {
  switch (t) {
    case FrameType::data: return "DATA";
    case FrameType::open: return "OPEN";
    case FrameType::window: return "WINDOW";
    case FrameType::reset: return "RESET";
    case FrameType::ping: return "PING";
    case FrameType::control: return "CONTROL";
    case FrameType::goaway: return "GOAWAY";
    case FrameType::datagram: return "DATAGRAM";
  }
  return "UNKNOWN";
}

void encode_header(std::uint8_t* out, const FrameHeader& h) {
  out[0] = kVersion;
  out[1] = static_cast<std::uint8_t>(h.type);
  out[2] = static_cast<std::uint8_t>(h.flags >> 8);
  out[3] = static_cast<std::uint8_t>(h.flags);
  store_u32(out + 4, h.stream);
  store_u32(out + 8, h.length);
}

void append_frame(std::vector<std::uint8_t>& out, const FrameHeader& h,
                  std::span<const std::uint8_t> payload) {
  // insert(), not resize() + memcpy: the payload is written once, never zero-filled first.
  std::uint8_t header[kHeaderSize];
  FrameHeader hh = h;
  hh.length = static_cast<std::uint32_t>(payload.size());
  encode_header(header, hh);
  out.insert(out.end(), header, header + kHeaderSize);
  out.insert(out.end(), payload.begin(), payload.end());
}

void append_frame(std::vector<std::uint8_t>& out, FrameType type, std::uint16_t flags, StreamId stream,
                  std::string_view payload) {
  append_frame(out, FrameHeader{type, flags, stream, 0},
               std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
}

Result<FrameHeader> decode_header(std::span<const std::uint8_t, kHeaderSize> b, const Limits& limits) {
  if (b[0] != kVersion) return make_error("unsupported frame version {}", b[0]);
  if (b[1] > kMaxFrameType) return make_error("unknown frame type {}", b[1]);
  FrameHeader h;
  h.type = static_cast<FrameType>(b[1]);
  h.flags = static_cast<std::uint16_t>((b[2] << 8) | b[3]);
  h.stream = load_u32(b.data() + 4);
  h.length = load_u32(b.data() + 8);
  const auto name = frame_type_name(h.type);
  const bool session_level = h.type == FrameType::ping || h.type == FrameType::control ||
                             h.type == FrameType::goaway;
  if (session_level && h.stream != 0) return make_error("{} frame on stream {} (must be 0)", name, h.stream);
  if (!session_level && h.stream == 0) return make_error("{} frame on stream 0", name);
  const std::uint16_t allowed = h.type == FrameType::data ? kFlagFin : h.type == FrameType::ping ? kFlagAck : 0;
  if ((h.flags & ~allowed) != 0) return make_error("{} frame with invalid flags 0x{:x}", name, h.flags);
  const std::uint32_t limit = h.type == FrameType::data       ? limits.max_data_payload
                              : h.type == FrameType::datagram ? limits.max_datagram_payload
                                                              : limits.max_control_payload;
  if (h.length > limit) return make_error("{} frame of {} bytes exceeds the limit of {}", name, h.length, limit);
  if (h.type == FrameType::window && h.length != 4) return make_error("WINDOW frame of {} bytes (must be 4)", h.length);
  if (h.type == FrameType::ping && h.length != 8) return make_error("PING frame of {} bytes (must be 8)", h.length);
  if ((h.type == FrameType::reset || h.type == FrameType::goaway) && h.length < 4) {
    return make_error("{} frame of {} bytes (at least 4)", name, h.length);
  }
  return h;
}

Result<void> FrameDecoder::feed(std::span<const std::uint8_t> bytes, const Sink& sink) {
  // Finish a frame staged by an earlier feed.
  while (!staged_.empty() || staged_header_) {
    if (!staged_header_) {
      auto take = std::min(kHeaderSize - staged_.size(), bytes.size());
      staged_.insert(staged_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
      bytes = bytes.subspan(take);
      if (staged_.size() < kHeaderSize) return {};
      auto h = decode_header(std::span<const std::uint8_t, kHeaderSize>(staged_.data(), kHeaderSize), limits_);
      if (!h) return h.error();
      staged_header_ = *h;
      staged_.clear();
      staged_.reserve(h->length);
    }
    auto need = staged_header_->length - staged_.size();
    auto take = std::min(need, bytes.size());
    staged_.insert(staged_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (staged_.size() < staged_header_->length) return {};
    auto h = *staged_header_;
    staged_header_.reset();
    auto r = sink(h, staged_);
    staged_.clear();
    if (staged_.capacity() > 2 * limits_.max_data_payload) staged_.shrink_to_fit();
    if (!r) return r;
  }
  // Whole frames straight from the caller's buffer.
  while (bytes.size() >= kHeaderSize) {
    auto h = decode_header(bytes.first<kHeaderSize>(), limits_);
    if (!h) return h.error();
    if (bytes.size() - kHeaderSize < h->length) break;
    if (auto r = sink(*h, bytes.subspan(kHeaderSize, h->length)); !r) return r;
    bytes = bytes.subspan(kHeaderSize + h->length);
  }
  if (!bytes.empty()) {
    if (bytes.size() >= kHeaderSize) {
      auto h = decode_header(bytes.first<kHeaderSize>(), limits_);  // validated above
      staged_header_ = *h;
      bytes = bytes.subspan(kHeaderSize);
      staged_.reserve(staged_header_->length);
    }
    staged_.assign(bytes.begin(), bytes.end());
  }
  return {};
}

std::vector<std::uint8_t> encode_code_reason(std::uint32_t code, std::string_view reason) {
  std::vector<std::uint8_t> out(4 + reason.size());
  store_u32(out.data(), code);
  std::memcpy(out.data() + 4, reason.data(), reason.size());
  return out;
}

Result<CodeReason> decode_code_reason(std::span<const std::uint8_t> payload) {
  if (payload.size() < 4) return make_error("code/reason payload of {} bytes (at least 4)", payload.size());
  return CodeReason{load_u32(payload.data()),
                    std::string_view(reinterpret_cast<const char*>(payload.data() + 4), payload.size() - 4)};
}

}  // namespace porthole::proto
