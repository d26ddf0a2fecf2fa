#include <string>

#include <gtest/gtest.h>

#include "proto/http1.hpp"

using namespace porthole::proto::http1;

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Parsed<RequestHead> req(std::string_view s, const Limits& limits = {}) {
  return parse_request(bytes(s), limits);
}

// A complete request head; the test fails (and the head is empty) otherwise.
RequestHead ok(std::string_view s) {
  auto p = req(s);
  EXPECT_EQ(p.status, ParseStatus::complete) << s << " -> " << p.error.message;
  return p.head;
}

void bad(std::string_view s, int status, std::string_view message, const Limits& limits = {}) {
  auto p = req(s, limits);
  ASSERT_EQ(p.status, ParseStatus::error) << s;
  EXPECT_EQ(p.error.status, status) << s << " -> " << p.error.message;
  EXPECT_NE(p.error.message.find(message), std::string::npos) << s << " -> " << p.error.message;
}

// A GET with `fields` (each line with its CRLF) and the final empty line.
std::string get(std::string_view fields, std::string_view line = "GET / HTTP/1.1") {
  return std::string(line) + "\r\n" + std::string(fields) + "\r\n";
}

}  // namespace

TEST(Http1Request, ParsesASimpleGet) {
  const std::string head = "GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n";
  auto p = req(head + "next bytes");
  ASSERT_EQ(p.status, ParseStatus::complete) << p.error.message;
  EXPECT_EQ(p.head_size, head.size());
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.target, "/p?q=1");
  EXPECT_EQ(p.head.minor, 1);
  EXPECT_EQ(p.head.host, "example.com");
  EXPECT_EQ(p.head.host_port, "");
  ASSERT_EQ(p.head.fields.list.size(), 3u);
  EXPECT_EQ(p.head.fields.list[1].name, "User-Agent");
  EXPECT_EQ(p.head.fields.list[2].value, "*/*");
  EXPECT_EQ(p.head.body, BodyKind::none);
  EXPECT_TRUE(p.head.keep_alive);
  EXPECT_FALSE(p.head.expect_continue);
  EXPECT_FALSE(p.head.upgrade);
}

TEST(Http1Request, EmptyInputIsIncomplete) {
  EXPECT_EQ(parse_request({}).status, ParseStatus::incomplete);
  EXPECT_EQ(parse_response({}, "GET").status, ParseStatus::incomplete);
  EXPECT_EQ(req("GET / HTTP/1.1\r\nHost: a\r\n").status, ParseStatus::incomplete);
  BodyFramer f(BodyKind::chunked, 0);
  auto s = f.feed({});
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_FALSE(s.done);
  EXPECT_FALSE(s.error);
}

TEST(Http1Request, PipelinedRequestsParseOneAfterTheOther) {
  const std::string a = get("Host: a\r\n"), b = get("Host: b\r\n", "HEAD /x HTTP/1.1");
  const std::string both = a + b;
  auto p1 = req(both);
  ASSERT_EQ(p1.status, ParseStatus::complete);
  EXPECT_EQ(p1.head_size, a.size());
  auto p2 = req(std::string_view(both).substr(p1.head_size));
  ASSERT_EQ(p2.status, ParseStatus::complete);
  EXPECT_EQ(p2.head.method, "HEAD");
  EXPECT_EQ(p2.head.host, "b");
}

TEST(Http1Request, HostIsLowerCasedWithoutPortAndTrailingDot) {
  auto h = ok(get("Host: WWW.Example.COM.:8080\r\n"));
  EXPECT_EQ(h.host, "www.example.com");
  EXPECT_EQ(h.host_port, "8080");
  EXPECT_EQ(*h.fields.get("host"), "WWW.Example.COM.:8080");  // the field as sent
  h = ok(get("Host: [2001:DB8::1]:8443\r\n"));
  EXPECT_EQ(h.host, "2001:db8::1");
  EXPECT_EQ(h.host_port, "8443");
  h = ok(get("Host: [::1]\r\n"));
  EXPECT_EQ(h.host, "::1");
  EXPECT_EQ(h.host_port, "");
  h = ok(get("Host: 192.0.2.1:80\r\n"));
  EXPECT_EQ(h.host, "192.0.2.1");
  EXPECT_EQ(h.host_port, "80");
  h = ok(get("Host: my_host-1.internal\r\n"));
  EXPECT_EQ(h.host, "my_host-1.internal");
}

TEST(Http1Request, HostRules) {
  bad(get(""), 400, "missing Host");
  bad(get("Host: a\r\nHost: a\r\n"), 400, "duplicate Host");
  bad(get("Host: a\r\nhost: b\r\n", "GET / HTTP/1.0"), 400, "duplicate Host");
  bad(get("Host:\r\n"), 400, "empty Host");
  bad(get("Host: \t \r\n", "GET / HTTP/1.0"), 400, "empty Host");
  auto h = ok(get("", "GET / HTTP/1.0"));  // HTTP/1.0 needs none
  EXPECT_EQ(h.host, "");
  EXPECT_EQ(h.minor, 0);
  for (const char* v : {"a b",
                        "a..b",
                        ".a",
                        "a,b",
                        "a/b",
                        "a@b",
                        "a:",
                        "a:99999",
                        "a:123456",
                        "a:12x",
                        "a:-1",
                        "a:80:90",
                        "[::1",
                        "[zz::1]",
                        "[::1]x",
                        "[::1]:",
                        "[fe80::1%25eth0]",
                        "[]",
                        "\xc3\xa9.com",
                        "a;b",
                        "\"a\"",
                        "*"}) {
    bad(get("Host: " + std::string(v) + "\r\n"), 400, "invalid Host");
  }
}

TEST(Http1Request, AbsoluteFormTargetWinsForHost) {
  auto h = ok(get("Host: other.example\r\n", "GET http://Target.Example:81/p?q HTTP/1.1"));
  EXPECT_EQ(h.target, "http://Target.Example:81/p?q");
  EXPECT_EQ(h.host, "target.example");
  EXPECT_EQ(h.host_port, "81");
  h = ok(get("Host: x\r\n", "GET HTTPS://a.example?x HTTP/1.1"));
  EXPECT_EQ(h.host, "a.example");
  h = ok(get("Host: x\r\n", "GET http://[::1]:9/ HTTP/1.1"));
  EXPECT_EQ(h.host, "::1");
  EXPECT_EQ(h.host_port, "9");
  h = ok(get("", "GET http://a.example/ HTTP/1.0"));
  EXPECT_EQ(h.host, "a.example");
  bad(get("", "GET http://a.example/ HTTP/1.1"), 400, "missing Host");
  bad(get("Host: bad host\r\n", "GET http://a.example/ HTTP/1.1"), 400, "invalid Host");
  bad(get("Host: x\r\n", "GET ftp://a.example/ HTTP/1.1"), 400, "unsupported scheme");
  bad(get("Host: x\r\n", "GET ://a.example/ HTTP/1.1"), 400, "unsupported scheme");
  bad(get("Host: x\r\n", "GET http://user:pw@a.example/ HTTP/1.1"), 400, "userinfo");
  bad(get("Host: x\r\n", "GET http:///p HTTP/1.1"), 400, "invalid host in the request target: empty host");
  bad(get("Host: x\r\n", "GET http://a b/ HTTP/1.1"), 400, "extra SP");
  bad(get("Host: x\r\n", "GET http://a%41/ HTTP/1.1"), 400, "invalid host in the request target");
}

TEST(Http1Request, AuthorityFormOnlyForConnect) {
  auto h = ok(get("Host: a.example:443\r\n", "CONNECT A.example:443 HTTP/1.1"));
  EXPECT_EQ(h.method, "CONNECT");
  EXPECT_EQ(h.host, "a.example");
  EXPECT_EQ(h.host_port, "443");
  bad(get("Host: a\r\n", "CONNECT a.example HTTP/1.1"), 400, "no port");
  bad(get("Host: a\r\n", "CONNECT /x HTTP/1.1"), 400, "CONNECT needs an authority-form target");
  bad(get("Host: a\r\n", "CONNECT http://a:1/ HTTP/1.1"), 400, "CONNECT needs an authority-form target");
  bad(get("Host: a\r\n", "CONNECT u@a:1 HTTP/1.1"), 400, "userinfo");
  bad(get("Host: a\r\n", "GET a.example:443 HTTP/1.1"), 400, "authority-form is only for CONNECT");
  bad(get("Host: a\r\n", "connect a.example:443 HTTP/1.1"), 400, "authority-form is only for CONNECT");
}

TEST(Http1Request, AsteriskOnlyForOptions) {
  auto h = ok(get("Host: a\r\n", "OPTIONS * HTTP/1.1"));
  EXPECT_EQ(h.target, "*");
  bad(get("Host: a\r\n", "GET * HTTP/1.1"), 400, "only for OPTIONS");
  bad(get("Host: a\r\n", "OPTIONS *x HTTP/1.1"), 400, "invalid request target");
}

TEST(Http1Request, RequestLineErrors) {
  const std::string host = "Host: a\r\n";
  bad(get(host, "GET  / HTTP/1.1"), 400, "more than one SP after the method");
  bad(get(host, "GET /  HTTP/1.1"), 400, "more than one SP before the HTTP version");
  bad(get(host, "GET / HTTP/1.1 "), 400, "extra SP");
  bad(get(host, "GET /a b HTTP/1.1"), 400, "extra SP");
  bad(get(host, "G@T / HTTP/1.1"), 400, "invalid character in method");
  bad(get(host, "GET\t/ HTTP/1.1"), 400, "invalid character in method");
  bad(get(host, " GET / HTTP/1.1"), 400, "whitespace before the method");
  bad(get(host, "GET"), 400, "missing request target");
  bad(get(host, "GET "), 400, "missing request target");
  bad(get(host, "GET /"), 400, "missing HTTP version");
  bad(get(host, "GET / "), 400, "invalid HTTP version");
  bad(get(host,
          "GET /a\x01"
          "b HTTP/1.1"),
      400, "invalid character in request target");
  bad(get(host, "GET /a\x7f HTTP/1.1"), 400, "invalid character in request target");
  bad(get(host, "GET /caf\xc3\xa9 HTTP/1.1"), 400, "invalid character in request target");
  bad(get(host, "GET /a#frag HTTP/1.1"), 400, "fragment");
  bad(get(host, "GET / HTTP/1.10"), 400, "invalid HTTP version");
  bad(get(host, "GET / http/1.1"), 400, "invalid HTTP version");
  bad(get(host, "GET / HTTP/1"), 400, "invalid HTTP version");
  bad(get(host, "GET / HTTP/1.x"), 400, "invalid HTTP version");
  bad(get(host, "GET / HTTP/1.2"), 505, "unsupported HTTP version");
  bad(get(host, "GET / HTTP/2.0"), 505, "unsupported HTTP version");
  bad(get(host, "GET / HTTP/0.9"), 505, "unsupported HTTP version");
  auto h = ok(get(host, "M-SEARCH! /%7e?a=b&c=%20 HTTP/1.1"));
  EXPECT_EQ(h.method, "M-SEARCH!");
  EXPECT_EQ(h.target, "/%7e?a=b&c=%20");
}

TEST(Http1Request, UpToTwoEmptyLinesBeforeTheRequestLine) {
  const std::string r = get("Host: a\r\n");
  auto p = req("\r\n\r\n" + r);
  ASSERT_EQ(p.status, ParseStatus::complete) << p.error.message;
  EXPECT_EQ(p.head_size, r.size() + 4);
  EXPECT_EQ(req("\r\n" + r).status, ParseStatus::complete);
  bad("\r\n\r\n\r\n" + r, 400, "more than two empty lines");
  bad("\n" + r, 400, "bare LF");
  EXPECT_EQ(req("\r\n\r\n").status, ParseStatus::incomplete);
  EXPECT_EQ(req("\r\n\r").status, ParseStatus::incomplete);
}

TEST(Http1Request, EveryLineEndsInCrlf) {
  bad("GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF");
  bad("GET / HTTP/1.1\r\nHost: a\n\r\n", 400, "bare LF");
  bad("GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF");
  bad("GET / HTTP/1.1\r\nHost: a\r\nX: 1\n\n", 400, "bare LF");
  bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400, "bare CR");
  bad("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400, "bare CR");
  bad("GET / HTTP/1.1\r\nHost: a\r\nX\r: a\r\n\r\n", 400, "bare CR");
  bad("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400, "bare CR");
  bad("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid character in request target");
  // A bare LF is an error as soon as it arrives, before the head is complete.
  bad("GET / HTTP/1.1\r\nHost: a\n", 400, "bare LF");
}

TEST(Http1Request, FieldSyntax) {
  const std::string line = "GET / HTTP/1.1";
  bad(get("Host: a\r\nX: 1\r\n  folded\r\n", line), 400, "obs-fold");
  bad(get("Host: a\r\nX: 1\r\n\tfolded\r\n", line), 400, "obs-fold");
  bad(get(" Host: a\r\n", line), 400, "obs-fold");
  bad(get("Host: a\r\nNoColon\r\n", line), 400, "missing colon");
  bad(get("Host: a\r\n: value\r\n", line), 400, "empty field name");
  bad(get("Host: a\r\nX-A : 1\r\n", line), 400, "whitespace between field name and colon");
  bad(get("Host: a\r\nX-A\t: 1\r\n", line), 400, "whitespace between field name and colon");
  bad(get("Host : a\r\n", line), 400, "whitespace between field name and colon");
  bad(get("Host: a\r\nX A: 1\r\n", line), 400, "whitespace in field name");
  bad(get("Host: a\r\nX@A: 1\r\n", line), 400, "invalid character in field name");
  bad(get("Host: a\r\nX\xc3\xa9: 1\r\n", line), 400, "invalid character in field name");
  bad(get("Host: a\r\nX: a" + std::string(1, '\0') + "b\r\n", line), 400, "NUL in field value");
  bad(get("Host: a\r\nX: a\x01"
          "b\r\n",
          line),
      400, "control character in field value");
  bad(get("Host: a\r\nX: a\x7f\r\n", line), 400, "control character in field value");
  bad(get("Host: a\r\nX: a\x1b[31m\r\n", line), 400, "control character in field value");
  auto h =
      ok(get("Host: a\r\nX-Text: \t caf\xc3\xa9 \t au\tlait \t \r\nX-Empty:\r\nX-Colon: a:b: c\r\n", line));
  EXPECT_EQ(*h.fields.get("x-text"), "caf\xc3\xa9 \t au\tlait");
  EXPECT_EQ(*h.fields.get("X-EMPTY"), "");
  EXPECT_EQ(*h.fields.get("x-colon"), "a:b: c");
  h = ok(get("Host: a\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n", line));
  EXPECT_EQ(h.fields.list[1].name, "!#$%&'*+-.^_`|~09azAZ");
}

TEST(Http1Request, ContentLength) {
  auto h = ok(get("Host: a\r\nContent-Length: 5\r\n", "POST / HTTP/1.1"));
  EXPECT_EQ(h.body, BodyKind::length);
  EXPECT_EQ(h.content_length, 5u);
  h = ok(get("Host: a\r\ncontent-length:  \t0012 \r\n", "POST / HTTP/1.1"));
  EXPECT_EQ(h.content_length, 12u);
  h = ok(get("Host: a\r\nContent-Length: 0\r\n", "POST / HTTP/1.1"));
  EXPECT_EQ(h.body, BodyKind::none);
  h = ok(get("Host: a\r\nContent-Length: 18446744073709551615\r\n", "POST / HTTP/1.1"));
  EXPECT_EQ(h.content_length, 18446744073709551615ull);
  bad(get("Host: a\r\nContent-Length: 18446744073709551616\r\n"), 400, "Content-Length too large");
  bad(get("Host: a\r\nContent-Length: 99999999999999999999999\r\n"), 400, "Content-Length too large");
  bad(get("Host: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n"), 400, "duplicate Content-Length");
  bad(get("Host: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n"), 400, "duplicate Content-Length");
  bad(get("Host: a\r\nContent-Length: 5, 5\r\n"), 400, "list of values");
  bad(get("Host: a\r\nContent-Length: 5,\r\n"), 400, "list of values");
  bad(get("Host: a\r\nContent-Length:\r\n"), 400, "empty Content-Length");
  for (const char* v : {"-5", "+5", "5a", "0x5", "5 5", "5.0", "\xd9\xa5"}) {
    bad(get("Host: a\r\nContent-Length: " + std::string(v) + "\r\n"), 400, "invalid Content-Length");
  }
}

TEST(Http1Request, TransferEncoding) {
  auto h = ok(get("Host: a\r\nTransfer-Encoding: chunked\r\n", "POST / HTTP/1.1"));
  EXPECT_EQ(h.body, BodyKind::chunked);
  h = ok(get("Host: a\r\ntransfer-encoding:\tChunked \r\n", "POST / HTTP/1.1"));
  EXPECT_EQ(h.body, BodyKind::chunked);
  const std::string host = "Host: a\r\n";
  bad(get(host + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"), 400,
      "both Transfer-Encoding and Content-Length");
  bad(get(host + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"), 400,
      "both Transfer-Encoding and Content-Length");
  bad(get(host + "Transfer-Encoding: gzip, chunked\r\n"), 501, "unsupported transfer coding \"gzip\"");
  bad(get(host + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 501,
      "unsupported transfer coding");
  bad(get(host + "Transfer-Encoding: chunked, chunked\r\n"), 400, "chunked applied more than once");
  bad(get(host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400, "more than once");
  bad(get(host + "Transfer-Encoding: chunked, gzip\r\n"), 400, "chunked is not the final transfer coding");
  bad(get(host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n"), 400, "not the final");
  bad(get(host + "Transfer-Encoding: gzip\r\n"), 400, "chunked is not the final transfer coding");
  bad(get(host + "Transfer-Encoding: xchunked\r\n"), 400, "chunked is not the final transfer coding");
  bad(get(host + "Transfer-Encoding: chunked,\r\n"), 400, "empty element in Transfer-Encoding");
  bad(get(host + "Transfer-Encoding: , chunked\r\n"), 400, "empty element in Transfer-Encoding");
  bad(get(host + "Transfer-Encoding:\r\n"), 400, "empty element in Transfer-Encoding");
  bad(get(host + "Transfer-Encoding: chunked;q=1\r\n"), 400, "parameters on the chunked transfer coding");
  bad(get(host + "Transfer-Encoding: chu nked\r\n"), 400, "invalid transfer coding");
  bad(get(host + "Transfer-Encoding: \"chunked\"\r\n"), 400, "invalid transfer coding");
  bad(get(host + "Transfer-Encoding : chunked\r\n"), 400, "whitespace between field name and colon");
  bad(get(host + "Transfer-Encoding: chunked\r\n", "POST / HTTP/1.0"), 400,
      "Transfer-Encoding in an HTTP/1.0");
}

TEST(Http1Request, KeepAliveExpectUpgrade) {
  EXPECT_TRUE(ok(get("Host: a\r\n")).keep_alive);
  EXPECT_FALSE(ok(get("Host: a\r\nConnection: close\r\n")).keep_alive);
  EXPECT_FALSE(ok(get("Host: a\r\nConnection: Keep-Alive, CLOSE\r\n")).keep_alive);
  EXPECT_FALSE(ok(get("Host: a\r\nConnection: x\r\nConnection: close\r\n")).keep_alive);
  EXPECT_TRUE(ok(get("Host: a\r\nConnection: closed\r\n")).keep_alive);
  EXPECT_FALSE(ok(get("", "GET / HTTP/1.0")).keep_alive);
  EXPECT_TRUE(ok(get("Connection: keep-alive\r\n", "GET / HTTP/1.0")).keep_alive);
  EXPECT_FALSE(ok(get("Connection: keep-alive, close\r\n", "GET / HTTP/1.0")).keep_alive);

  EXPECT_TRUE(ok(get("Host: a\r\nExpect: 100-Continue\r\n")).expect_continue);
  EXPECT_FALSE(ok(get("Host: a\r\nExpect: 100-continuez\r\n")).expect_continue);
  EXPECT_FALSE(ok(get("Expect: 100-continue\r\n", "GET / HTTP/1.0")).expect_continue);

  EXPECT_TRUE(ok(get("Host: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n")).upgrade);
  EXPECT_TRUE(ok(get("Host: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n")).upgrade);
  EXPECT_FALSE(ok(get("Host: a\r\nConnection: upgrade\r\n")).upgrade);
  EXPECT_FALSE(ok(get("Host: a\r\nUpgrade: websocket\r\n")).upgrade);
  EXPECT_FALSE(ok(get("Connection: upgrade\r\nUpgrade: websocket\r\n", "GET / HTTP/1.0")).upgrade);
}

TEST(Http1Request, HeadLimitExactlyAtTheLimitIsFine) {
  const std::string base = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  const std::string r = base + std::string(100, 'p') + "\r\n\r\n";
  Limits l;
  l.max_head = r.size();
  EXPECT_EQ(req(r, l).status, ParseStatus::complete);
  l.max_head = r.size() - 1;
  bad(r, 431, "head larger than", l);
  // As soon as it is known: the head cannot end within the limit any more.
  bad(r.substr(0, r.size() - 1), 431, "head larger than", l);
  bad(r.substr(0, l.max_head), 431, "head larger than", l);
  EXPECT_EQ(req(r.substr(0, l.max_head - 1), l).status, ParseStatus::incomplete);
  // 40 KiB without the end of the head: 431 with the default limits, not "incomplete".
  bad("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(40 * 1024, 'x'), 431, "");
  bad("GET /" + std::string(40 * 1024, 'x'), 431, "head larger than 32768 bytes");
}

TEST(Http1Request, FieldLineLimit) {
  Limits l;
  l.max_field = 64;
  const std::string exact = "X: " + std::string(61, 'v');  // 64 bytes without CRLF
  EXPECT_EQ(req(get("Host: a\r\n" + exact + "\r\n"), l).status, ParseStatus::complete);
  bad(get("Host: a\r\n" + exact + "v\r\n"), 431, "field line longer than 64 bytes", l);
  // Partial lines too: one byte over is enough to know.
  EXPECT_EQ(req("GET / HTTP/1.1\r\nHost: a\r\n" + exact + "\r", l).status, ParseStatus::incomplete);
  EXPECT_EQ(req("GET / HTTP/1.1\r\nHost: a\r\n" + exact, l).status, ParseStatus::incomplete);
  bad("GET / HTTP/1.1\r\nHost: a\r\n" + exact + "v", 431, "field line longer", l);
}

TEST(Http1Request, FieldCountLimit) {
  Limits l;
  l.max_fields = 4;
  const std::string three = "Host: a\r\nA: 1\r\nB: 2\r\n";
  EXPECT_EQ(req(get(three + "C: 3\r\n"), l).status, ParseStatus::complete);
  bad(get(three + "C: 3\r\nD: 4\r\n"), 431, "more than 4 header fields", l);
  EXPECT_EQ(req("GET / HTTP/1.1\r\n" + three + "C: 3\r\n", l).status, ParseStatus::incomplete);
  EXPECT_EQ(req("GET / HTTP/1.1\r\n" + three + "C: 3\r\n\r", l).status, ParseStatus::incomplete);
  bad("GET / HTTP/1.1\r\n" + three + "C: 3\r\nD", 431, "more than 4 header fields", l);
}

TEST(Http1Request, IncompleteUntilTheLastByteAtEverySplit) {
  const std::string heads[] = {
      get("Host: a\r\n"),
      "\r\n\r\nPOST /up HTTP/1.1\r\nHost: x.example:8080\r\nTransfer-Encoding: chunked\r\nX: \t v \r\n\r\n",
      get("Host: a\r\nContent-Length: 3\r\nConnection: keep-alive, upgrade\r\nUpgrade: websocket\r\n",
          "GET http://a/ HTTP/1.1"),
      get("Connection: keep-alive\r\n", "OPTIONS * HTTP/1.0"),
  };
  for (const auto& h : heads) {
    const std::string with_body = h + "abc";
    for (std::size_t n = 0; n < h.size(); ++n) {
      auto p = req(std::string_view(with_body).substr(0, n));
      ASSERT_EQ(p.status, ParseStatus::incomplete) << "at " << n << " of " << h << ": " << p.error.message;
    }
    for (std::size_t n = h.size(); n <= with_body.size(); ++n) {
      auto p = req(std::string_view(with_body).substr(0, n));
      ASSERT_EQ(p.status, ParseStatus::complete) << "at " << n;
      EXPECT_EQ(p.head_size, h.size());
    }
  }
}

TEST(Http1Request, InvalidHeadsAreNeverCompleteOnAPrefix) {
  const std::string heads[] = {
      get("Host: a\r\nHost: b\r\n"),
      get("Host: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n"),
      get("Host: a\r\nX : 1\r\n"),
      "GET / HTTP/1.1\r\nHost: a\r\nX: 1\n\r\n",
  };
  for (const auto& h : heads) {
    for (std::size_t n = 0; n <= h.size(); ++n) {
      EXPECT_NE(req(std::string_view(h).substr(0, n)).status, ParseStatus::complete) << n;
    }
    EXPECT_EQ(req(h).status, ParseStatus::error);
  }
}
