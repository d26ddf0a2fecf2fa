// SOCKS5 (RFC 1928/1929) and the HTTP proxy head, sans-I/O: byte by byte, early data, errors.
#include <gtest/gtest.h>

#include "proto/http_proxy.hpp"
#include "proto/messages.hpp"
#include "proto/socks5.hpp"

namespace porthole::proto {
namespace {

using B = std::vector<std::uint8_t>;
std::span<const std::uint8_t> sp(const B& b, std::size_t n) { return std::span<const std::uint8_t>(b.data(), n); }

TEST(Socks5, GreetingByteByByte) {
  B g{5, 2, 0, 2};
  for (std::size_t n = 0; n < g.size(); ++n) EXPECT_EQ(socks5::parse_greeting(sp(g, n)).status, socks5::Status::need_more) << n;
  auto r = socks5::parse_greeting(g);
  ASSERT_EQ(r.status, socks5::Status::done);
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_TRUE(r.greeting.offers(2));
  EXPECT_FALSE(r.greeting.offers(1));
}

TEST(Socks5, GreetingErrors) {
  EXPECT_EQ(socks5::parse_greeting(B{4, 1, 0}).status, socks5::Status::error);
  auto r = socks5::parse_greeting(B{5, 0});
  EXPECT_EQ(r.status, socks5::Status::error);
  EXPECT_TRUE(r.send_no_acceptable);
  EXPECT_EQ(socks5::encode_method(0xff), (B{5, 0xff}));
}

TEST(Socks5, RequestDomainWithEarlyData) {
  B q{5, 1, 0, 3, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0x01, 0xbb, 'G', 'E', 'T'};
  for (std::size_t n = 0; n < q.size() - 3; ++n) {
    EXPECT_EQ(socks5::parse_request(sp(q, n)).status, socks5::Status::need_more) << n;
  }
  auto r = socks5::parse_request(q);
  ASSERT_EQ(r.status, socks5::Status::done);
  EXPECT_EQ(r.consumed, q.size() - 3);
  EXPECT_EQ(r.request.host, "a.example");
  EXPECT_EQ(r.request.port, 443);
  EXPECT_EQ(r.request.command, socks5::kCmdConnect);
}

TEST(Socks5, RequestAddresses) {
  auto v4 = socks5::parse_request(B{5, 1, 0, 1, 127, 0, 0, 2, 0, 80});
  ASSERT_EQ(v4.status, socks5::Status::done);
  EXPECT_EQ(v4.request.host, "127.0.0.2");
  B six{5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22};
  auto v6 = socks5::parse_request(six);
  ASSERT_EQ(v6.status, socks5::Status::done);
  EXPECT_EQ(v6.request.host, "::1");
  EXPECT_EQ(v6.request.port, 22);
}

TEST(Socks5, RequestErrorsCarryTheRfcReply) {
  EXPECT_EQ(socks5::parse_request(B{4, 1}).reply, socks5::kGeneralFailure);
  EXPECT_EQ(socks5::parse_request(B{5, 9}).reply, socks5::kCommandNotSupported);
  EXPECT_EQ(socks5::parse_request(B{5, 1, 1}).reply, socks5::kGeneralFailure);
  EXPECT_EQ(socks5::parse_request(B{5, 1, 0, 7}).reply, socks5::kAddressTypeNotSupported);
  EXPECT_EQ(socks5::parse_request(B{5, 1, 0, 3, 0}).reply, socks5::kGeneralFailure);
  auto ctl = socks5::parse_request(B{5, 1, 0, 3, 3, 'a', '\n'});
  EXPECT_EQ(ctl.status, socks5::Status::error);
  auto udp = socks5::parse_request(B{5, 3, 0, 1, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(udp.status, socks5::Status::done);  // parsed; the server answers 0x07 itself
  EXPECT_EQ(socks5::encode_reply(socks5::kNotAllowed), (B{5, 2, 0, 1, 0, 0, 0, 0, 0, 0}));
}

TEST(Socks5, UserPass) {
  B a{1, 2, 'u', '1', 3, 'p', 'w', 'd'};
  for (std::size_t n = 0; n < a.size(); ++n) EXPECT_EQ(socks5::parse_userpass(sp(a, n)).status, socks5::Status::need_more);
  auto r = socks5::parse_userpass(a);
  ASSERT_EQ(r.status, socks5::Status::done);
  EXPECT_EQ(r.user, "u1");
  EXPECT_EQ(r.password, "pwd");
  EXPECT_EQ(socks5::parse_userpass(B{5, 1}).status, socks5::Status::error);
  EXPECT_EQ(socks5::parse_userpass(B{1, 0}).status, socks5::Status::error);
  EXPECT_EQ(socks5::parse_userpass(B{1, 1, 'u', 0}).status, socks5::Status::error);
}

B bytes(std::string_view s) { return B(s.begin(), s.end()); }

TEST(HttpProxy, Connect) {
  auto b = bytes("CONNECT db.test:5432 HTTP/1.1\r\nHost: db.test:5432\r\nProxy-Authorization: Basic dTpw\r\n\r\nxyz");
  auto p = http_proxy::parse(b);
  ASSERT_EQ(p.status, http1::ParseStatus::complete) << p.error;
  EXPECT_TRUE(p.request.tunnel);
  EXPECT_EQ(p.request.host, "db.test");
  EXPECT_EQ(p.request.port, 5432);
  EXPECT_EQ(p.head_size, b.size() - 3);
  EXPECT_TRUE(http_proxy::basic_matches(p.request.proxy_authorization, "u", "p"));
  EXPECT_FALSE(http_proxy::basic_matches(p.request.proxy_authorization, "u", "q"));
  auto v6 = http_proxy::parse(bytes("CONNECT [::1]:22 HTTP/1.1\r\nHost: [::1]:22\r\n\r\n"));
  ASSERT_EQ(v6.status, http1::ParseStatus::complete) << v6.error;
  EXPECT_EQ(v6.request.host, "::1");
}

TEST(HttpProxy, AbsoluteForm) {
  auto p = http_proxy::parse(bytes("GET http://web.test:8080/a?b=1 HTTP/1.1\r\nHost: web.test:8080\r\n"
                                   "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic x\r\n\r\n"));
  ASSERT_EQ(p.status, http1::ParseStatus::complete) << p.error;
  EXPECT_FALSE(p.request.tunnel);
  EXPECT_EQ(p.request.port, 8080);
  EXPECT_EQ(p.request.forward_head.rfind("GET /a?b=1 HTTP/1.1\r\n", 0), 0u) << p.request.forward_head;
  EXPECT_EQ(p.request.forward_head.find("Proxy-"), std::string::npos);
  // Keep-alive: no Connection field (HTTP/1.1's default), the client connection goes on.
  EXPECT_EQ(p.request.forward_head.find("Connection"), std::string::npos) << p.request.forward_head;
  EXPECT_TRUE(p.request.keep_alive);
  EXPECT_EQ(p.request.method, "GET");
  auto c = http_proxy::parse(bytes("POST http://web.test/u HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n"
                                   "Content-Length: 3\r\n\r\nabc"));
  ASSERT_EQ(c.status, http1::ParseStatus::complete) << c.error;
  EXPECT_FALSE(c.request.keep_alive);
  EXPECT_NE(c.request.forward_head.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(c.request.body, http1::BodyKind::length);
  EXPECT_EQ(c.request.content_length, 3u);
  auto old = http_proxy::parse(bytes("GET http://web.test/ HTTP/1.0\r\n\r\n"));
  ASSERT_EQ(old.status, http1::ParseStatus::complete) << old.error;
  EXPECT_FALSE(old.request.keep_alive);
  EXPECT_NE(old.request.forward_head.find("Connection: close\r\n"), std::string::npos);
  auto q = http_proxy::parse(bytes("GET http://web.test HTTP/1.1\r\nHost: web.test\r\n\r\n"));
  ASSERT_EQ(q.status, http1::ParseStatus::complete) << q.error;
  EXPECT_EQ(q.request.port, 80);
  EXPECT_EQ(q.request.forward_head.rfind("GET / HTTP/1.1\r\n", 0), 0u);
}

TEST(HttpProxy, Errors) {
  EXPECT_EQ(http_proxy::parse(bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")).status, http1::ParseStatus::error);
  EXPECT_EQ(http_proxy::parse(bytes("GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n")).status, http1::ParseStatus::error);
  EXPECT_EQ(http_proxy::parse(bytes("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n")).status, http1::ParseStatus::error);
  EXPECT_EQ(http_proxy::parse(bytes("CONNECT a:0 HTTP/1.1\r\nHost: a:0\r\n\r\n")).status, http1::ParseStatus::error);
  EXPECT_EQ(http_proxy::parse(bytes("CONNECT a:1 HTTP/1.1\r\n")).status, http1::ParseStatus::incomplete);
  EXPECT_NE(http_proxy::response(407, "x").find("Proxy-Authenticate: Basic"), std::string::npos);
}

TEST(OpenMetaTarget, RoundTripsAndIsOptional) {
  OpenMeta m{"office", "", "connect"};
  m.target = "[::1]:22";
  auto text = encode(m);
  EXPECT_NE(text.find("\"target\":\"[::1]:22\""), std::string::npos) << text;
  auto back = decode_open(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->target, "[::1]:22");
  EXPECT_EQ(back->kind, "connect");
  auto plain = decode_open(R"({"tunnel":"t","visitor":"v"})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->target, "");
  EXPECT_EQ(encode(OpenMeta{"t", "v", ""}).find("target"), std::string::npos);
  EXPECT_FALSE(decode_open(R"({"tunnel":"t","target":5})"));
}

}  // namespace
}  // namespace porthole::proto
