// proto::ws::FrameReader: RFC 6455 framing as a passive reader — masking, 7/16/64-bit lengths,
// fragmentation with control frames between fragments, close codes, previews, and every kind of
// bad input stopping it with a reason. Also: any split of the input gives the same messages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proto/ws_frame.hpp"

namespace porthole::proto::ws {
namespace {

std::string frame(std::uint8_t b0, std::string_view payload, bool mask, std::size_t force_ext = 0) {
  std::string f(1, static_cast<char>(b0));
  const std::uint8_t m = mask ? 0x80 : 0;
  const auto n = payload.size();
  if ((n < 126 && force_ext == 0)) {
    f += static_cast<char>(m | n);
  } else if ((n < 65536 && force_ext != 8) || force_ext == 2) {
    f += static_cast<char>(m | 126);
    f += static_cast<char>(n >> 8);
    f += static_cast<char>(n & 0xff);
  } else {
    f += static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff);
  }
  const char key[4] = {'\x12', '\x34', '\x56', '\x78'};
  if (mask) f.append(key, 4);
  for (std::size_t i = 0; i < n; ++i) f += mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return f;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::vector<Message> read_all(const std::string& in, bool masked, std::size_t preview = 16, std::string* error = nullptr,
                              std::size_t step = 0) {
  FrameReader r(masked, preview);
  std::vector<Message> out;
  if (step == 0) {
    r.feed(bytes(in), out);
  } else {
    for (std::size_t i = 0; i < in.size(); i += step) {
      r.feed(bytes(in).subspan(i, std::min(step, in.size() - i)), out);
    }
  }
  if (error != nullptr) *error = r.error();
  return out;
}

TEST(WsFrame, TextAndBinaryMaskedFromTheClient) {
  const auto in = frame(0x81, "hello", true) + frame(0x82, std::string("\x00\x01\x02", 3), true);
  std::string err;
  auto m = read_all(in, true, 16, &err);
  ASSERT_EQ(m.size(), 2u) << err;
  EXPECT_EQ(m[0].opcode, text);
  EXPECT_EQ(m[0].preview, "hello");
  EXPECT_EQ(m[0].size, 5u);
  EXPECT_EQ(m[1].opcode, binary);
  EXPECT_EQ(m[1].preview, std::string("\x00\x01\x02", 3));
  EXPECT_TRUE(err.empty());
}

TEST(WsFrame, LengthsOf7_16And64Bits_PreviewBounded) {
  const std::string big(70000, 'a');
  const std::string mid(300, 'b');
  const auto in = frame(0x82, big, false) + frame(0x81, mid, false) + frame(0x81, "x", false, 8);
  auto m = read_all(in, false, 10);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m[0].size, 70000u);
  EXPECT_EQ(m[0].preview, std::string(10, 'a'));
  EXPECT_EQ(m[1].size, 300u);
  EXPECT_EQ(m[1].preview, std::string(10, 'b'));
  EXPECT_EQ(m[2].size, 1u);  // a non-minimal 64-bit length is read, not refused
}

TEST(WsFrame, FragmentsJoin_ControlFramesInBetween) {
  const auto in = frame(0x01, "Hel", true) + frame(0x89, "ping!", true) + frame(0x00, "lo, ", true) +
                  frame(0x80, "world", true);
  auto m = read_all(in, true, 8);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].opcode, ping);
  EXPECT_EQ(m[0].preview, "ping!");
  EXPECT_EQ(m[1].opcode, text);
  EXPECT_EQ(m[1].size, 12u);
  EXPECT_EQ(m[1].preview, "Hello, w");
  EXPECT_EQ(m[1].frames, 3u);
}

TEST(WsFrame, CloseCodeAndEmptyClose) {
  const auto in = frame(0x88, std::string("\x03\xe8", 2) + "bye", false) + frame(0x88, "", false);
  auto m = read_all(in, false);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].close_code, 1000);
  EXPECT_EQ(m[0].preview.substr(2), "bye");
  EXPECT_EQ(m[1].close_code, 0);
}

TEST(WsFrame, Rsv1MarksCompressed) {
  auto m = read_all(frame(0xc1, "zz", false), false);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(m[0].compressed);
}

TEST(WsFrame, AnySplitGivesTheSameMessages) {
  const auto in = frame(0x01, std::string(200, 'q'), true) + frame(0x8a, "", true) + frame(0x80, "end", true) +
                  frame(0x82, std::string(66000, 'z'), true) + frame(0x88, "\x0f\xa0", true);
  const auto whole = read_all(in, true, 32);
  ASSERT_EQ(whole.size(), 4u);
  for (std::size_t step : {1u, 2u, 3u, 7u, 13u, 4096u}) {
    const auto split = read_all(in, true, 32, nullptr, step);
    ASSERT_EQ(split.size(), whole.size()) << step;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(split[i].opcode, whole[i].opcode);
      EXPECT_EQ(split[i].size, whole[i].size);
      EXPECT_EQ(split[i].preview, whole[i].preview);
      EXPECT_EQ(split[i].close_code, whole[i].close_code);
    }
  }
  EXPECT_EQ(whole[3].close_code, 4000);
}

struct Bad {
  std::string in;
  bool masked;
  const char* why;
};

TEST(WsFrame, BadInputStopsWithAReason) {
  const std::vector<Bad> cases = {
      {frame(0x83, "x", false), false, "reserved opcode 3"},
      {frame(0x8b, "x", false), false, "reserved opcode 11"},
      {frame(0xa1, "x", false), false, "RSV2/RSV3"},
      {frame(0x81, "x", false), true, "unmasked frame from the client"},
      {frame(0x81, "x", true), false, "masked frame from the server"},
      {frame(0x09, "x", false), false, "fragmented control frame"},
      {frame(0x89, std::string(126, 'p'), false), false, "control frame over 125"},
      {frame(0xc9, "", false), false, "RSV1 on a control frame"},
      {frame(0x80, "x", false), false, "continuation frame with no message"},
      {frame(0x01, "a", false) + frame(0x81, "b", false), false, "new message inside a fragmented one"},
      {frame(0x01, "a", false) + frame(0xc0, "b", false), false, "RSV1 on a continuation"},
      {frame(0x88, "x", false), false, "1-byte payload"},
      {std::string("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00", 10), false, "most significant bit"},
  };
  for (const auto& c : cases) {
    std::string err;
    FrameReader r(c.masked, 16);
    std::vector<Message> out;
    EXPECT_FALSE(r.feed(bytes(c.in + frame(0x81, "after", c.masked)), out)) << c.why;
    EXPECT_NE(r.error().find(c.why), std::string::npos) << r.error() << " / " << c.why;
    EXPECT_TRUE(r.failed());
    // Once failed, nothing more is read (the later good frame is ignored).
    const auto n = out.size();
    EXPECT_FALSE(r.feed(bytes(frame(0x81, "more", c.masked)), out));
    EXPECT_EQ(out.size(), n);
  }
}

TEST(WsFrame, HugeLengthNeverAllocates) {
  // A 2^62-byte frame announced: the reader counts, keeps the preview, holds nothing else.
  std::string in("\x82\x7f\x40\x00\x00\x00\x00\x00\x00\x00", 10);
  in += std::string(1000, 'h');
  FrameReader r(false, 8);
  std::vector<Message> out;
  EXPECT_TRUE(r.feed(bytes(in), out));
  EXPECT_TRUE(out.empty());  // not finished
  EXPECT_EQ(r.frames(), 1u);
}

}  // namespace
}  // namespace porthole::proto::ws
