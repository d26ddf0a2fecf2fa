#include <string>

#include <gtest/gtest.h>

#include "proto/http1.hpp"

using namespace porthole::proto::http1;

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

RequestHead request(std::string_view fields, std::string_view line = "GET / HTTP/1.1") {
  const std::string text = std::string(line) + "\r\n" + std::string(fields) + "\r\n";
  auto p = parse_request(bytes(text));
  EXPECT_EQ(p.status, ParseStatus::complete) << text << " -> " << p.error.message;
  return p.head;
}

ResponseHead response(std::string_view fields, std::string_view line = "HTTP/1.1 200 OK") {
  const std::string text = std::string(line) + "\r\n" + std::string(fields) + "\r\n";
  auto p = parse_response(bytes(text), "GET");
  EXPECT_EQ(p.status, ParseStatus::complete) << text << " -> " << p.error.message;
  return p.head;
}

std::string value(const Fields& f, std::string_view name) {
  const auto* v = f.get(name);
  return v ? *v : std::string("<none>");
}

ForwardContext visitor(bool trusted = false) {
  ForwardContext c;
  c.client_ip = "203.0.113.7";
  c.proto = "https";
  c.trusted_peer = trusted;
  return c;
}

}  // namespace

TEST(Http1Fields, LookUpsAreCaseInsensitive) {
  Fields f;
  f.add("Accept", "a");
  f.add("X-Dup", "1");
  f.add("x-dup", "2");
  EXPECT_EQ(value(f, "ACCEPT"), "a");
  EXPECT_EQ(value(f, "X-DUP"), "1");
  EXPECT_EQ(f.get("Accept-Encoding"), nullptr);
  EXPECT_EQ(f.count("x-Dup"), 2u);
  EXPECT_EQ(f.count("nope"), 0u);
  f.set("X-DUP", "3");
  EXPECT_EQ(f.count("x-dup"), 1u);
  EXPECT_EQ(f.list.back().name, "X-DUP");
  EXPECT_EQ(f.list.back().value, "3");
  f.remove("accept");
  EXPECT_EQ(f.list.size(), 1u);
}

TEST(Http1Fields, HasTokenMatchesWholeListElements) {
  Fields f;
  f.add("Connection", "keep-alive ,\tUpgrade");
  f.add("connection", "x-a");
  f.add("Other", "close");
  EXPECT_TRUE(f.has_token("connection", "upgrade"));
  EXPECT_TRUE(f.has_token("Connection", "KEEP-ALIVE"));
  EXPECT_TRUE(f.has_token("Connection", "x-a"));
  EXPECT_FALSE(f.has_token("Connection", "alive"));
  EXPECT_FALSE(f.has_token("Connection", "close"));
  EXPECT_FALSE(f.has_token("Nope", "close"));
}

TEST(Http1Serialize, RequestRoundTrip) {
  auto h = request("Host: a.example:81\r\nContent-Length: 2\r\nX-Empty: \r\nx-v: caf\xc3\xa9\r\n",
                   "POST /a?b HTTP/1.0");
  EXPECT_EQ(serialize(h),
            "POST /a?b HTTP/1.0\r\nHost: a.example:81\r\nContent-Length: 2\r\nX-Empty: \r\n"
            "x-v: caf\xc3\xa9\r\n\r\n");
  auto again = parse_request(bytes(serialize(h)));
  ASSERT_EQ(again.status, ParseStatus::complete);
  EXPECT_EQ(again.head.method, h.method);
  EXPECT_EQ(again.head.target, h.target);
  EXPECT_EQ(again.head.minor, 0);
  EXPECT_EQ(again.head.host, "a.example");
  EXPECT_EQ(again.head.content_length, 2u);
  ASSERT_EQ(again.head.fields.list.size(), h.fields.list.size());
  for (std::size_t i = 0; i < h.fields.list.size(); ++i) {
    EXPECT_EQ(again.head.fields.list[i].name, h.fields.list[i].name);
    EXPECT_EQ(again.head.fields.list[i].value, h.fields.list[i].value);
  }
  // Trimmed values go out in canonical form.
  EXPECT_EQ(serialize(request("Host:\t a \t\r\n")), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST(Http1Forward, ReplacesWhatAnUntrustedVisitorSent) {
  auto h = request(
      "Host: app.example:8443\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\n"
      "X-Forwarded-Proto: http\r\nX-Forwarded-Host: evil\r\nForwarded: for=6.6.6.6\r\nAccept: */*\r\n");
  prepare_request(h, visitor());
  EXPECT_EQ(h.fields.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(value(h.fields, "X-Forwarded-For"), "203.0.113.7");
  EXPECT_EQ(value(h.fields, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(value(h.fields, "X-Forwarded-Host"), "app.example:8443");
  EXPECT_EQ(h.fields.count("Forwarded"), 1u);
  EXPECT_EQ(value(h.fields, "Forwarded"), "for=203.0.113.7;host=\"app.example:8443\";proto=https");
  EXPECT_EQ(value(h.fields, "Host"), "app.example:8443");
  EXPECT_EQ(value(h.fields, "Accept"), "*/*");
}

TEST(Http1Forward, ExtendsWhatATrustedProxySent) {
  auto h = request(
      "Host: app.example\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\n"
      "X-Forwarded-Proto: https\r\nX-Forwarded-Host: orig.example\r\nForwarded: for=198.51.100.1\r\n");
  auto ctx = visitor(true);
  ctx.proto = "http";
  prepare_request(h, ctx);
  EXPECT_EQ(h.fields.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(value(h.fields, "X-Forwarded-For"), "198.51.100.1, 10.0.0.1, 10.0.0.2, 203.0.113.7");
  EXPECT_EQ(value(h.fields, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(value(h.fields, "X-Forwarded-Host"), "orig.example");
  EXPECT_EQ(value(h.fields, "Forwarded"), "for=198.51.100.1, for=203.0.113.7;host=app.example;proto=http");
  // Nothing sent: the same as untrusted.
  auto fresh = request("Host: app.example\r\n");
  prepare_request(fresh, visitor(true));
  EXPECT_EQ(value(fresh.fields, "X-Forwarded-For"), "203.0.113.7");
  EXPECT_EQ(value(fresh.fields, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(value(fresh.fields, "X-Forwarded-Host"), "app.example");
  EXPECT_EQ(value(fresh.fields, "Forwarded"), "for=203.0.113.7;host=app.example;proto=https");
}

TEST(Http1Forward, Ipv6InForwarded) {
  auto h = request("Host: [2001:db8::2]:8080\r\n");
  auto ctx = visitor();
  ctx.client_ip = "2001:db8::1";
  prepare_request(h, ctx);
  EXPECT_EQ(value(h.fields, "X-Forwarded-For"), "2001:db8::1");
  EXPECT_EQ(value(h.fields, "Forwarded"), "for=\"[2001:db8::1]\";host=\"[2001:db8::2]:8080\";proto=https");
  auto old = request("", "GET / HTTP/1.0");  // no Host at all
  prepare_request(old, visitor());
  EXPECT_EQ(value(old.fields, "Forwarded"), "for=203.0.113.7;proto=https");
  EXPECT_EQ(old.fields.get("X-Forwarded-Host"), nullptr);
}

TEST(Http1Forward, RemovesHopByHopFields) {
  auto h = request(
      "Host: a\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: "
      "keep-alive\r\n"
      "TE: trailers\r\nTrailer: X-Checksum\r\nUpgrade: websocket\r\nX-Secret: 1\r\nx-secret: 2\r\nX-Kept: "
      "3\r\n");
  EXPECT_FALSE(h.upgrade);
  prepare_request(h, visitor());
  for (const char* name :
       {"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "X-Secret"}) {
    EXPECT_EQ(h.fields.get(name), nullptr) << name;
  }
  EXPECT_EQ(value(h.fields, "X-Kept"), "3");
  EXPECT_EQ(value(h.fields, "Host"), "a");
}

TEST(Http1Forward, ConnectionCannotStripFramingHostOrForwardingFields) {
  auto h = request(
      "Host: a\r\nContent-Length: 3\r\nX-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\n"
      "Connection: X-Forwarded-For, Content-Length, Host, Transfer-Encoding, Forwarded, "
      "X-Forwarded-Proto\r\n",
      "POST / HTTP/1.1");
  prepare_request(h, visitor(true));
  EXPECT_EQ(value(h.fields, "Host"), "a");
  EXPECT_EQ(value(h.fields, "Content-Length"), "3");
  // A trusted proxy's own fields named in Connection are hop-by-hop: gone, then set anew.
  EXPECT_EQ(value(h.fields, "X-Forwarded-For"), "203.0.113.7");
  EXPECT_EQ(value(h.fields, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(value(h.fields, "Forwarded"), "for=203.0.113.7;host=a;proto=https");
  EXPECT_EQ(h.fields.get("Connection"), nullptr);
  auto chunked = request("Host: a\r\nTransfer-Encoding: chunked\r\nConnection: transfer-encoding\r\n",
                         "POST / HTTP/1.1");
  prepare_request(chunked, visitor());
  EXPECT_EQ(value(chunked.fields, "Transfer-Encoding"), "chunked");
}

TEST(Http1Forward, Upgrade) {
  auto h =
      request("Host: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n");
  ASSERT_TRUE(h.upgrade);
  prepare_request(h, visitor());
  EXPECT_EQ(value(h.fields, "Upgrade"), "websocket");
  EXPECT_EQ(h.fields.count("Connection"), 1u);
  EXPECT_EQ(value(h.fields, "Connection"), "upgrade");
  EXPECT_EQ(value(h.fields, "Sec-WebSocket-Key"), "k");
}

TEST(Http1Forward, AbsoluteFormTargetReplacesHost) {
  auto h = request("Host: other.example\r\n", "GET http://App.Example:81/x HTTP/1.1");
  prepare_request(h, visitor());
  EXPECT_EQ(h.fields.count("Host"), 1u);
  EXPECT_EQ(value(h.fields, "Host"), "App.Example:81");
  EXPECT_EQ(value(h.fields, "X-Forwarded-Host"), "App.Example:81");
}

TEST(Http1Forward, PrepareResponse) {
  auto h = response(
      "Content-Length: 2\r\nConnection: close, X-Internal, Content-Length\r\nKeep-Alive: 5\r\nX-Internal: "
      "1\r\n"
      "Upgrade: h2c\r\nTrailer: x\r\nServer: s\r\n");
  prepare_response(h);
  ASSERT_EQ(h.fields.list.size(), 2u);
  EXPECT_EQ(value(h.fields, "Content-Length"), "2");
  EXPECT_EQ(value(h.fields, "Server"), "s");
  auto up = response("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: x\r\n",
                     "HTTP/1.1 101 Switching Protocols");
  prepare_response(up);
  EXPECT_EQ(value(up.fields, "Upgrade"), "websocket");
  EXPECT_EQ(value(up.fields, "Connection"), "upgrade");
  EXPECT_EQ(value(up.fields, "Sec-WebSocket-Accept"), "x");
}

TEST(Http1Forward, AcceptsHtml) {
  EXPECT_TRUE(
      accepts_html(request("Host: a\r\nAccept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8\r\n")));
  EXPECT_TRUE(accepts_html(request("Host: a\r\nAccept: application/json\r\nAccept: TEXT/HTML ; q=0.5\r\n")));
  EXPECT_FALSE(accepts_html(request("Host: a\r\nAccept: */*\r\n")));
  EXPECT_FALSE(accepts_html(request("Host: a\r\nAccept: text/htmlx, text/plain\r\n")));
  EXPECT_FALSE(accepts_html(request("Host: a\r\nX-Accept: text/html\r\n")));
  EXPECT_FALSE(accepts_html(request("Host: a\r\n")));
}

TEST(Http1Errors, ErrorResponseIsAValidResponse) {
  for (bool html : {true, false}) {
    for (bool close : {true, false}) {
      const auto text = error_response(502, "Bad <gateway>", "agent \"x\" & 'y' is offline", html, close);
      auto p = parse_response(bytes(text), "GET");
      ASSERT_EQ(p.status, ParseStatus::complete) << p.error.message;
      EXPECT_EQ(p.head.status, 502);
      EXPECT_EQ(p.head.reason, "Bad Gateway");
      EXPECT_EQ(p.head.body, BodyKind::length);
      const auto body = text.substr(p.head_size);
      EXPECT_EQ(p.head.content_length, body.size());
      EXPECT_EQ(value(p.head.fields, "Cache-Control"), "no-store");
      EXPECT_EQ(p.head.fields.has_token("Connection", "close"), close);
      EXPECT_EQ(p.head.keep_alive, !close);
      if (html) {
        EXPECT_EQ(value(p.head.fields, "Content-Type"), "text/html; charset=utf-8");
        EXPECT_NE(body.find("<title>Bad &lt;gateway&gt;</title>"), std::string::npos) << body;
        EXPECT_NE(body.find("<h1>Bad &lt;gateway&gt;</h1>"), std::string::npos);
        EXPECT_NE(body.find("<p>agent &quot;x&quot; &amp; &#39;y&#39; is offline</p>"), std::string::npos);
        EXPECT_EQ(body.find("<gateway>"), std::string::npos);
      } else {
        EXPECT_EQ(value(p.head.fields, "Content-Type"), "text/plain; charset=utf-8");
        EXPECT_EQ(body, "Bad <gateway>: agent \"x\" & 'y' is offline\n");
      }
    }
  }
  const auto nf = error_response(404, "Not found", "no tunnel", false, false);
  EXPECT_TRUE(nf.starts_with("HTTP/1.1 404 Not Found\r\n")) << nf;
}

TEST(Http1Errors, ReasonPhrases) {
  const std::pair<int, std::string_view> known[] = {{100, "Continue"},
                                                    {101, "Switching Protocols"},
                                                    {200, "OK"},
                                                    {204, "No Content"},
                                                    {301, "Moved Permanently"},
                                                    {302, "Found"},
                                                    {304, "Not Modified"},
                                                    {307, "Temporary Redirect"},
                                                    {308, "Permanent Redirect"},
                                                    {400, "Bad Request"},
                                                    {401, "Unauthorized"},
                                                    {403, "Forbidden"},
                                                    {404, "Not Found"},
                                                    {405, "Method Not Allowed"},
                                                    {408, "Request Timeout"},
                                                    {413, "Content Too Large"},
                                                    {421, "Misdirected Request"},
                                                    {429, "Too Many Requests"},
                                                    {431, "Request Header Fields Too Large"},
                                                    {500, "Internal Server Error"},
                                                    {501, "Not Implemented"},
                                                    {502, "Bad Gateway"},
                                                    {503, "Service Unavailable"},
                                                    {504, "Gateway Timeout"},
                                                    {505, "HTTP Version Not Supported"}};
  for (const auto& [code, reason] : known) EXPECT_EQ(reason_phrase(code), reason) << code;
  for (int code : {0, -1, 299, 599, 1000}) EXPECT_EQ(reason_phrase(code), "Unknown") << code;
}
