#include "proto/frame.hpp"

#include <gtest/gtest.h>

using namespace porthole::proto;

namespace {

std::vector<std::uint8_t> frame(FrameType t, std::uint16_t flags, StreamId id, std::string_view payload) {
  std::vector<std::uint8_t> out;
  append_frame(out, t, flags, id, payload);
  return out;
}

struct Collected {
  std::vector<FrameHeader> headers;
  std::vector<std::string> payloads;
  FrameDecoder::Sink sink() {
    return [this](const FrameHeader& h, std::span<const std::uint8_t> p) -> porthole::Result<void> {
      headers.push_back(h);
      payloads.emplace_back(p.begin(), p.end());
      return {};
    };
  }
};

}  // namespace

TEST(Frame, HeaderRoundTrip) {
  auto bytes = frame(FrameType::data, kFlagFin, 7, "hello");
  ASSERT_EQ(bytes.size(), kHeaderSize + 5);
  EXPECT_EQ(bytes[0], kVersion);
  auto h = decode_header(std::span<const std::uint8_t, kHeaderSize>(bytes.data(), kHeaderSize), Limits{});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->type, FrameType::data);
  EXPECT_EQ(h->flags, kFlagFin);
  EXPECT_EQ(h->stream, 7u);
  EXPECT_EQ(h->length, 5u);
}

TEST(Frame, DecoderHandlesEverySplit) {
  std::vector<std::uint8_t> all;
  for (auto& f : {frame(FrameType::open, 0, 1, "{}"), frame(FrameType::data, 0, 1, "abcdef"),
                  frame(FrameType::data, kFlagFin, 1, ""), frame(FrameType::control, 0, 0, "{\"type\":1}")}) {
    all.insert(all.end(), f.begin(), f.end());
  }
  for (std::size_t step = 1; step <= all.size(); ++step) {
    FrameDecoder d;
    Collected c;
    for (std::size_t i = 0; i < all.size(); i += step) {
      auto n = std::min(step, all.size() - i);
      ASSERT_TRUE(d.feed(std::span(all.data() + i, n), c.sink())) << "step " << step;
    }
    ASSERT_EQ(c.headers.size(), 4u) << "step " << step;
    EXPECT_EQ(c.payloads[1], "abcdef");
    EXPECT_EQ(c.headers[2].flags, kFlagFin);
    EXPECT_EQ(c.payloads[3], "{\"type\":1}");
    EXPECT_EQ(d.buffered(), 0u);
  }
}

TEST(Frame, RejectsOversizedBeforeAllocating) {
  std::vector<std::uint8_t> h(kHeaderSize);
  encode_header(h.data(), FrameHeader{FrameType::data, 0, 1, 0x7fffffff});
  FrameDecoder d;
  Collected c;
  auto r = d.feed(h, c.sink());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exceeds the limit"), std::string::npos);
  EXPECT_LE(d.buffered(), kHeaderSize);  // nothing reserved for the claimed payload
}

TEST(Frame, RejectsBadHeaders) {
  auto check = [](std::vector<std::uint8_t> bytes, std::string_view want) {
    FrameDecoder d;
    Collected c;
    auto r = d.feed(bytes, c.sink());
    ASSERT_FALSE(r) << want;
    EXPECT_NE(r.error().message.find(want), std::string::npos) << r.error().message;
  };
  auto v = frame(FrameType::data, 0, 1, "x");
  v[0] = 9;
  check(v, "version");
  v = frame(FrameType::data, 0, 1, "x");
  v[1] = 42;
  check(v, "unknown frame type");
  check(frame(FrameType::data, 0, 0, "x"), "stream 0");
  check(frame(FrameType::control, 0, 3, "{}"), "must be 0");
  check(frame(FrameType::data, 0x80, 1, "x"), "invalid flags");
  check(frame(FrameType::window, 0, 1, "abc"), "must be 4");
  check(frame(FrameType::ping, 0, 0, "abc"), "must be 8");
  check(frame(FrameType::reset, 0, 1, "ab"), "at least 4");
}

TEST(Frame, CodeReasonRoundTrip) {
  auto p = encode_code_reason(3, "nope");
  auto cr = decode_code_reason(p);
  ASSERT_TRUE(cr);
  EXPECT_EQ(cr->code, 3u);
  EXPECT_EQ(cr->reason, "nope");
}
