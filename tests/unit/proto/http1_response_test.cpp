#include <string>

#include <gtest/gtest.h>

#include "proto/http1.hpp"

using namespace porthole::proto::http1;

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Parsed<ResponseHead> resp(std::string_view s, std::string_view method = "GET", const Limits& limits = {}) {
  return parse_response(bytes(s), method, limits);
}

ResponseHead ok(std::string_view s, std::string_view method = "GET") {
  auto p = resp(s, method);
  EXPECT_EQ(p.status, ParseStatus::complete) << s << " -> " << p.error.message;
  return p.head;
}

void bad(std::string_view s, std::string_view message, std::string_view method = "GET",
         const Limits& limits = {}) {
  auto p = resp(s, method, limits);
  ASSERT_EQ(p.status, ParseStatus::error) << s;
  EXPECT_EQ(p.error.status, 502) << s << " -> " << p.error.message;
  EXPECT_NE(p.error.message.find(message), std::string::npos) << s << " -> " << p.error.message;
}

std::string with(std::string_view status_line, std::string_view fields) {
  return std::string(status_line) + "\r\n" + std::string(fields) + "\r\n";
}

}  // namespace

TEST(Http1Response, ParsesAStatusLineAndFields) {
  const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n";
  auto p = resp(head + "hello");
  ASSERT_EQ(p.status, ParseStatus::complete) << p.error.message;
  EXPECT_EQ(p.head_size, head.size());
  EXPECT_EQ(p.head.status, 200);
  EXPECT_EQ(p.head.reason, "OK");
  EXPECT_EQ(p.head.minor, 1);
  ASSERT_EQ(p.head.fields.list.size(), 2u);
  EXPECT_EQ(p.head.body, BodyKind::length);
  EXPECT_EQ(p.head.content_length, 5u);
  EXPECT_TRUE(p.head.keep_alive);
}

TEST(Http1Response, ReasonPhrases) {
  EXPECT_EQ(ok(with("HTTP/1.1 404 Not  Found\there", "")).reason, "Not  Found\there");
  EXPECT_EQ(ok(with("HTTP/1.1 200 ", "")).reason, "");
  EXPECT_EQ(ok(with("HTTP/1.1 200", "")).reason, "");  // lenient: no SP after the code
  EXPECT_EQ(ok(with("HTTP/1.0 200 D\xc3\xa9j\xc3\xa0 vu", "")).reason, "D\xc3\xa9j\xc3\xa0 vu");
  bad(with("HTTP/1.1 200 O\x01K", ""), "control character in reason phrase");
  bad(with("HTTP/1.1 200 O\x7fK", ""), "control character in reason phrase");
  bad(with("HTTP/1.1 200 O\rK", ""), "bare CR in reason phrase");
}

TEST(Http1Response, StatusLineErrors) {
  bad(with("HTTP/1.1 2000 OK", ""), "invalid status code");
  bad(with("HTTP/1.1 20 OK", ""), "invalid status code");
  bad(with("HTTP/1.1 20", ""), "invalid status code");
  bad(with("HTTP/1.1 abc OK", ""), "invalid status code");
  bad(with("HTTP/1.1 +20 OK", ""), "invalid status code");
  bad(with("HTTP/1.1", ""), "invalid status code");
  bad(with("HTTP/1.1  200 OK", ""), "more than one SP after the HTTP version");
  bad(with("HTTP/1.1\t200 OK", ""), "invalid status line");
  bad(with("HTTP/1.10 200 OK", ""), "invalid status line");
  bad(with("HTTP/1", ""), "invalid status line");
  bad(with("http/1.1 200 OK", ""), "invalid HTTP version");
  bad(with("HTTP/2.0 200 OK", ""), "unsupported HTTP version");
  bad(with("HTTP/1.1 099 Low", ""), "status code out of range");
  bad(with("HTTP/1.1 600 High", ""), "status code out of range");
  bad("\r\nHTTP/1.1 200 OK\r\n\r\n", "empty line before the status line");
  bad("HTTP/1.1 200 OK\nX: 1\r\n\r\n", "bare LF");
  EXPECT_EQ(ok(with("HTTP/1.1 100 Continue", "")).status, 100);
  EXPECT_EQ(ok(with("HTTP/1.1 599 Edge", "")).status, 599);
}

TEST(Http1Response, FieldErrorsAre502) {
  bad(with("HTTP/1.1 200 OK", "X : 1\r\n"), "whitespace between field name and colon");
  bad(with("HTTP/1.1 200 OK", "X: 1\r\n folded\r\n"), "obs-fold");
  bad(with("HTTP/1.1 200 OK", "X: a\x01\r\n"), "control character in field value");
  bad(with("HTTP/1.1 200 OK", "X: a\rb\r\n"), "bare CR");
  bad(with("HTTP/1.1 200 OK", "NoColon\r\n"), "missing colon");
  Limits l;
  l.max_fields = 1;
  bad(with("HTTP/1.1 200 OK", "A: 1\r\nB: 2\r\n"), "more than 1 header fields", "GET", l);
  l = Limits{};
  l.max_head = 32;
  bad(with("HTTP/1.1 200 OK", "A: 0123456789abcdef\r\n"), "head larger than 32 bytes", "GET", l);
}

TEST(Http1Response, FramingFollowsRfc9112Section6_3) {
  const std::string cl = "Content-Length: 10\r\n";
  const std::string te = "Transfer-Encoding: chunked\r\n";
  EXPECT_EQ(ok(with("HTTP/1.1 200 OK", cl), "HEAD").body, BodyKind::none);
  EXPECT_EQ(ok(with("HTTP/1.1 200 OK", te), "HEAD").body, BodyKind::none);
  EXPECT_EQ(ok(with("HTTP/1.1 200 OK", ""), "HEAD").body, BodyKind::none);
  for (const char* line :
       {"HTTP/1.1 100 Continue", "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 103 Early Hints",
        "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified"}) {
    EXPECT_EQ(ok(with(line, cl)).body, BodyKind::none) << line;
    EXPECT_EQ(ok(with(line, "")).body, BodyKind::none) << line;
  }
  EXPECT_EQ(ok(with("HTTP/1.1 200 Connection established", ""), "CONNECT").body, BodyKind::none);
  EXPECT_EQ(ok(with("HTTP/1.1 299 X", cl), "CONNECT").body, BodyKind::none);
  auto h = ok(with("HTTP/1.1 407 Proxy Auth", cl), "CONNECT");
  EXPECT_EQ(h.body, BodyKind::length);
  EXPECT_EQ(h.content_length, 10u);
  EXPECT_EQ(ok(with("HTTP/1.1 200 OK", te)).body, BodyKind::chunked);
  EXPECT_EQ(ok(with("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, Chunked\r\n")).body, BodyKind::chunked);
  h = ok(with("HTTP/1.1 200 OK", "Transfer-Encoding: gzip\r\n"));
  EXPECT_EQ(h.body, BodyKind::until_close);
  EXPECT_FALSE(h.keep_alive);
  EXPECT_EQ(ok(with("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip\r\n")).body, BodyKind::until_close);
  h = ok(with("HTTP/1.1 200 OK", ""));
  EXPECT_EQ(h.body, BodyKind::until_close);
  EXPECT_FALSE(h.keep_alive);
  h = ok(with("HTTP/1.1 200 OK", "Content-Length: 0\r\n"));
  EXPECT_EQ(h.body, BodyKind::none);
  EXPECT_TRUE(h.keep_alive);
  bad(with("HTTP/1.1 200 OK", te + cl), "both Transfer-Encoding and Content-Length");
  bad(with("HTTP/1.1 200 OK", te + cl), "both Transfer-Encoding and Content-Length", "HEAD");
  bad(with("HTTP/1.1 200 OK", cl + cl), "duplicate Content-Length");
  bad(with("HTTP/1.1 200 OK", cl + cl), "duplicate Content-Length", "HEAD");
  bad(with("HTTP/1.1 200 OK", "Content-Length: 10, 10\r\n"), "list of values");
  bad(with("HTTP/1.1 200 OK", "Content-Length: ten\r\n"), "invalid Content-Length");
  bad(with("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, chunked\r\n"), "more than once");
  bad(with("HTTP/1.1 200 OK", "Transfer-Encoding: chunked,\r\n"), "empty element");
  bad(with("HTTP/1.0 200 OK", te), "Transfer-Encoding in an HTTP/1.0 response");
}

TEST(Http1Response, KeepAlive) {
  EXPECT_TRUE(ok(with("HTTP/1.1 200 OK", "Content-Length: 1\r\n")).keep_alive);
  EXPECT_FALSE(ok(with("HTTP/1.1 200 OK", "Content-Length: 1\r\nConnection: close\r\n")).keep_alive);
  EXPECT_FALSE(ok(with("HTTP/1.0 200 OK", "Content-Length: 1\r\n")).keep_alive);
  EXPECT_TRUE(ok(with("HTTP/1.0 200 OK", "Content-Length: 1\r\nConnection: Keep-Alive\r\n")).keep_alive);
  EXPECT_FALSE(ok(with("HTTP/1.0 200 OK", "Connection: Keep-Alive\r\n")).keep_alive);  // until close
  EXPECT_EQ(ok(with("HTTP/1.0 204 No Content", "")).minor, 0);
}

TEST(Http1Response, IncompleteUntilTheLastByteAtEverySplit) {
  const std::string heads[] = {
      with("HTTP/1.1 200 OK", "Content-Length: 3\r\nX: y\r\n"),
      with("HTTP/1.1 204", ""),
      with("HTTP/1.0 101 Switching Protocols", "Upgrade: websocket\r\nConnection: upgrade\r\n"),
  };
  for (const auto& h : heads) {
    const std::string more = h + "abc";
    for (std::size_t n = 0; n < h.size(); ++n) {
      auto p = resp(std::string_view(more).substr(0, n));
      ASSERT_EQ(p.status, ParseStatus::incomplete) << n << ": " << p.error.message;
    }
    for (std::size_t n = h.size(); n <= more.size(); ++n) {
      auto p = resp(std::string_view(more).substr(0, n));
      ASSERT_EQ(p.status, ParseStatus::complete) << n;
      EXPECT_EQ(p.head_size, h.size());
    }
  }
}

TEST(Http1Response, SerializeRoundTrip) {
  const std::string head = "HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\nX-A: a b\r\nx-a: c\r\n\r\n";
  auto h = ok(head);
  EXPECT_EQ(serialize(h), head);
  ResponseHead made;
  made.status = 503;
  made.reason = "Service Unavailable";
  made.fields.add("Retry-After", "5");
  EXPECT_EQ(serialize(made), "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\n");
  auto back = ok(serialize(made));
  EXPECT_EQ(back.status, 503);
  EXPECT_EQ(back.reason, "Service Unavailable");
  EXPECT_EQ(*back.fields.get("retry-after"), "5");
}
