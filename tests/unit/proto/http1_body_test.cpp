#include <string>

#include <gtest/gtest.h>

#include "proto/http1.hpp"

using namespace porthole::proto::http1;
using namespace std::literals;

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// The outcome of feeding a whole input in pieces.
struct Outcome {
  std::size_t consumed = 0;
  bool done = false;
  std::string error;  // "" when none
};

// Feeds `in` in pieces of `step` bytes (0: all at once), as a caller would: stops at done or
// error; the bytes after the body stay unconsumed.
Outcome run(BodyFramer f, std::string_view in, std::size_t step = 0) {
  Outcome o;
  std::size_t pos = 0;
  do {
    const auto n = step == 0 ? in.size() - pos : std::min(step, in.size() - pos);
    auto s = f.feed(bytes(in.substr(pos, n)));
    EXPECT_LE(s.consumed, n);
    o.consumed += s.consumed;
    pos += n;
    if (s.error) {
      o.error = s.error->message;
      EXPECT_EQ(s.error->status, 400);
      return o;
    }
    if (s.done) {
      o.done = true;
      EXPECT_TRUE(f.done());
      return o;
    }
    EXPECT_EQ(s.consumed, n) << "not done: everything fed is consumed";
  } while (pos < in.size());
  return o;
}

// Two pieces split at `cut`.
Outcome run_split(BodyFramer f, std::string_view in, std::size_t cut) {
  Outcome o;
  auto s = f.feed(bytes(in.substr(0, cut)));
  o.consumed = s.consumed;
  if (s.error) {
    o.error = s.error->message;
    return o;
  }
  if (s.done) {
    o.done = true;
    return o;
  }
  s = f.feed(bytes(in.substr(cut)));
  o.consumed += s.consumed;
  o.done = s.done;
  if (s.error) o.error = s.error->message;
  return o;
}

BodyFramer chunked(const Limits& l = {}) {
  return BodyFramer(BodyKind::chunked, 0, l);
}

// The same outcome whole, one byte at a time, in 2, 3 and 7 byte pieces and at every split
// into two.
Outcome same_at_every_split(const BodyFramer& f, std::string_view in) {
  const auto whole = run(f, in);
  for (std::size_t step : {1u, 2u, 3u, 7u}) {
    const auto o = run(f, in, step);
    EXPECT_EQ(o.done, whole.done) << "step " << step;
    EXPECT_EQ(o.error, whole.error) << "step " << step;
    if (whole.error.empty()) {
      EXPECT_EQ(o.consumed, whole.consumed) << "step " << step;
    }
  }
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    const auto o = run_split(f, in, cut);
    EXPECT_EQ(o.done, whole.done) << "cut " << cut;
    EXPECT_EQ(o.error, whole.error) << "cut " << cut;
    if (whole.error.empty()) {
      EXPECT_EQ(o.consumed, whole.consumed) << "cut " << cut;
    }
  }
  return whole;
}

void chunked_ok(std::string_view body, std::string_view next = "GET / HTTP/1.1\r\n") {
  const std::string in = std::string(body) + std::string(next);
  const auto o = same_at_every_split(chunked(), in);
  EXPECT_TRUE(o.done) << body << ": " << o.error;
  EXPECT_EQ(o.consumed, body.size()) << body;
}

void chunked_bad(std::string_view body, std::string_view message, const Limits& l = {}) {
  const auto o = same_at_every_split(chunked(l), body);
  EXPECT_FALSE(o.done) << body;
  EXPECT_NE(o.error.find(message), std::string::npos) << body << " -> " << o.error;
}

}  // namespace

TEST(Http1Body, NoneIsDoneAtOnce) {
  BodyFramer f(BodyKind::none, 0);
  EXPECT_TRUE(f.done());
  auto s = f.feed(bytes("GET"));
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_TRUE(s.done);
  EXPECT_FALSE(f.at_eof());
  EXPECT_TRUE(BodyFramer().done());
  EXPECT_TRUE(BodyFramer(BodyKind::length, 0).done());
}

TEST(Http1Body, LengthConsumesExactlyThatMany) {
  const auto o = same_at_every_split(BodyFramer(BodyKind::length, 5), "hellonext");
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.consumed, 5u);
  BodyFramer f(BodyKind::length, 5);
  auto s = f.feed(bytes("hel"));
  EXPECT_EQ(s.consumed, 3u);
  EXPECT_FALSE(s.done);
  auto e = f.at_eof();
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("2 bytes before the end of the body"), std::string::npos) << e->message;
  BodyFramer big(BodyKind::length, 18446744073709551615ull);
  EXPECT_EQ(big.feed(bytes("abc")).consumed, 3u);
  EXPECT_FALSE(big.done());
}

TEST(Http1Body, UntilCloseTakesEverythingAndEndsAtEof) {
  BodyFramer f(BodyKind::until_close, 0);
  auto s = f.feed(bytes("anything\r\n0\r\n\r\n"));
  EXPECT_EQ(s.consumed, 15u);
  EXPECT_FALSE(s.done);
  EXPECT_FALSE(f.at_eof());
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.feed(bytes("more")).consumed, 0u);
}

TEST(Http1Body, ChunkedBodies) {
  chunked_ok("0\r\n\r\n");
  chunked_ok("5\r\nhello\r\n0\r\n\r\n");
  chunked_ok("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  chunked_ok("A\r\n0123456789\r\n0\r\n\r\n");
  chunked_ok("a\r\n\r\n\r\n\r\n\r\n\r\n\r\n0\r\n\r\n");  // data that looks like framing
  chunked_ok("0005\r\nhello\r\n000\r\n\r\n");
  chunked_ok("000000000000000f\r\n0123456789abcde\r\n0\r\n\r\n");  // 16 digits
  chunked_ok("5;name\r\nhello\r\n0;last=yes\r\n\r\n");
  chunked_ok("5 ; a = b ;c=\"q \\\" \\\\ \t x\";d\t=\te\r\nhello\r\n0\r\n\r\n");
  chunked_ok("5;a=\"\xc3\xa9\"\r\nhello\r\n0\r\n\r\n");
  chunked_ok("0\r\nX-Checksum: abc\r\nExpires: \t never \r\n\r\n");
  chunked_ok("3\r\n\xff\x00\x01\r\n0\r\n\r\n"sv);
}

TEST(Http1Body, ChunkSizeErrors) {
  chunked_bad("g\r\n", "invalid chunk size");
  chunked_bad("-5\r\nhello\r\n", "invalid chunk size");
  chunked_bad("+5\r\nhello\r\n", "invalid chunk size");
  chunked_bad(" 5\r\nhello\r\n", "invalid chunk size");
  chunked_bad("0x5\r\nhello\r\n", "invalid chunk extension");
  chunked_bad("\r\n", "empty chunk-size line");
  chunked_bad("5 \r\nhello\r\n", "invalid chunk extension");
  chunked_bad("5\n", "bare LF in chunk-size line");
  chunked_bad("5\r\nhello\r\n0\n", "bare LF in chunk-size line");
  chunked_bad("5\rx\r\n", "bare CR in chunk-size line");
  chunked_bad("5\r\r\n", "bare CR in chunk-size line");
  chunked_bad("00000000000000001\r\n", "longer than 16 hex digits");
  chunked_bad("10000000000000000\r\n", "longer than 16 hex digits");
  chunked_bad("5;\r\n", "invalid chunk extension name");
  chunked_bad("5;=x\r\n", "invalid chunk extension name");
  chunked_bad("5;a=\r\n", "invalid chunk extension value");
  chunked_bad("5;a b\r\n", "invalid chunk extension");
  chunked_bad("5;a=b c\r\n", "invalid chunk extension");
  chunked_bad("5;a=\"x\r\n", "invalid quoted string");
  chunked_bad("5;a=\"x\x01\"\r\n", "invalid quoted string");
  chunked_bad("5;a=\"x\\\x01\"\r\n", "invalid quoted string");
  chunked_bad("5;a=\"x\"y\r\n", "invalid chunk extension");
  chunked_bad("5;a\x7f\r\n", "invalid chunk extension");
  chunked_bad("5,6\r\n", "invalid chunk extension");
}

TEST(Http1Body, ChunkDataMustEndInCrlf) {
  chunked_bad("5\r\nhello\n0\r\n\r\n", "missing CRLF after chunk data");
  chunked_bad("5\r\nhelloXX", "missing CRLF after chunk data");
  chunked_bad("5\r\nhello\r\r", "missing CRLF after chunk data");
  chunked_bad("5\r\nhello world\r\n", "missing CRLF after chunk data");
  chunked_bad("5\r\nhello0\r\n\r\n", "missing CRLF after chunk data");
}

TEST(Http1Body, Trailers) {
  chunked_bad("0\r\nX y: 1\r\n\r\n", "in a trailer: whitespace in field name");
  chunked_bad("0\r\nX : 1\r\n\r\n", "in a trailer: whitespace between field name and colon");
  chunked_bad("0\r\n folded\r\n\r\n", "in a trailer: obs-fold");
  chunked_bad("0\r\nX: a\x01\r\n\r\n", "in a trailer: control character");
  chunked_bad("0\r\nX: a\rb\r\n\r\n", "in a trailer: bare CR");
  chunked_bad("0\r\nNoColon\r\n\r\n", "missing colon");
  chunked_bad("0\r\nX: 1\n\r\n", "bare LF in trailer line");
  chunked_bad("0\r\nX: 1\r\n\n", "bare LF in trailer line");
  Limits l;
  l.max_trailers = 20;  // "X: 0123456789abc\r\n" is 18, the empty line 2
  const auto o = same_at_every_split(chunked(l), "0\r\nX: 0123456789abc\r\n\r\n");
  EXPECT_TRUE(o.done) << o.error;
  chunked_bad("0\r\nX: 0123456789abcd\r\n\r\n", "trailer section larger than 20 bytes", l);
  chunked_bad("0\r\nX: 1\r\nY: 2\r\nZ: 0123456789\r\n\r\n", "trailer section larger than 20 bytes", l);
}

TEST(Http1Body, LineLimits) {
  Limits l;
  l.max_chunk_line = 10;
  auto o = same_at_every_split(chunked(l), "1;abcdefgh\r\nx\r\n0\r\n\r\n");  // 10 bytes
  EXPECT_TRUE(o.done) << o.error;
  chunked_bad("1;abcdefghi\r\nx\r\n0\r\n\r\n", "chunk-size line longer than 10 bytes", l);
  chunked_bad("1;abcdefghi", "chunk-size line longer than 10 bytes", l);
  chunked_bad("1;abcdefghi\n", "chunk-size line longer than 10 bytes", l);
  o = same_at_every_split(chunked(l), "0\r\nX: 3456789\r\n\r\n");
  EXPECT_TRUE(o.done) << o.error;
  chunked_bad("0\r\nX: 34567890\r\n\r\n", "trailer line longer than 10 bytes", l);
  // Garbage without a line end never grows past the limit.
  chunked_bad(std::string(100, 'f'), "chunk-size line longer than 10 bytes", l);
}

TEST(Http1Body, AtEofInAChunkedBody) {
  for (std::string_view part : {"", "5", "5\r", "5\r\nhel", "5\r\nhello", "5\r\nhello\r",
                                "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0\r\nX: 1\r\n"}) {
    auto f = chunked();
    EXPECT_FALSE(f.feed(bytes(part)).error);
    auto e = f.at_eof();
    ASSERT_TRUE(e) << part;
    EXPECT_NE(e->message.find("inside a chunked body"), std::string::npos);
  }
  auto f = chunked();
  EXPECT_TRUE(f.feed(bytes("0\r\n\r\n")).done);
  EXPECT_FALSE(f.at_eof());
}

TEST(Http1Body, NothingIsConsumedAfterDoneOrFailure) {
  auto f = chunked();
  auto s = f.feed(bytes("0\r\n\r\nGET"));
  EXPECT_EQ(s.consumed, 5u);
  EXPECT_TRUE(s.done);
  s = f.feed(bytes("more"));
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_TRUE(s.done);
  auto g = chunked();
  s = g.feed(bytes("5\r\nhelloXYZ"));
  ASSERT_TRUE(s.error);
  EXPECT_EQ(s.consumed, 8u);  // up to the byte that showed the error
  s = g.feed(bytes("more"));
  EXPECT_EQ(s.consumed, 0u);
  ASSERT_TRUE(s.error);
  EXPECT_NE(s.error->message.find("missing CRLF"), std::string::npos);
  EXPECT_FALSE(g.done());
  EXPECT_TRUE(g.at_eof());
}

TEST(Http1Body, LargeChunkSizesDoNotOverflow) {
  auto f = chunked();
  auto s = f.feed(bytes("ffffffffffffffff\r\nabc"));
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.consumed, 21u);
  EXPECT_FALSE(s.done);
}
