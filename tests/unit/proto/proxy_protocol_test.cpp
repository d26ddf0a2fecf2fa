// PROXY protocol codec: the examples of HAProxy's specification, every split point, and each
// refusal with its reason.
#include "proto/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace porthole::proto::pp {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<std::uint8_t> cat(std::vector<std::uint8_t> a, const std::vector<std::uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Parses `in` fed one more byte at a time: every prefix is need_more until the header is whole
// (done exactly then) or cannot be one (an error, which more bytes do not change).
ParseResult parse_every_split(const std::vector<std::uint8_t>& in) {
  for (std::size_t n = 0; n <= in.size(); ++n) {
    auto r = parse(std::span(in.data(), n));
    if (r.status == Status::need_more) continue;
    if (r.status == Status::done) {
      EXPECT_EQ(r.consumed, n) << "done before the header was whole";
    }
    auto whole = parse(in);
    EXPECT_EQ(whole.status, r.status);
    EXPECT_EQ(whole.reason, r.reason);
    return r;
  }
  return parse(in);
}

Address ip(std::string_view text, std::uint16_t port) { return parse_ip(text, port).value(); }

TEST(ProxyProtocolV1, SpecExampleBeforeAnHttpRequest) {
  const auto line = bytes("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
  const auto in = cat(line, bytes("GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"));
  auto r = parse_every_split(in);
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(r.consumed, line.size());
  EXPECT_EQ(r.header.version, 1);
  EXPECT_EQ(r.header.family, Family::inet);
  EXPECT_TRUE(r.header.has_addresses());
  EXPECT_EQ(format_address(r.header.source), "192.168.0.1:56324");
  EXPECT_EQ(format_address(r.header.destination), "192.168.0.11:443");
}

TEST(ProxyProtocolV1, Tcp6AndLongestLine) {
  auto r = parse(bytes("PROXY TCP6 2001:db8::1 ::1 65535 0\r\n"));
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(format_address(r.header.source), "[2001:db8::1]:65535");
  EXPECT_EQ(format_address(r.header.destination), "[::1]:0");
  // The spec's worst case: 107 bytes with the CRLF is accepted, 108 is not.
  const std::string ff = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const auto worst = "PROXY UNKNOWN " + ff + " " + ff + " 65535 65535\r\n";
  ASSERT_EQ(worst.size(), 107u);
  r = parse(bytes(worst));
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_FALSE(r.header.has_addresses());
  const auto tcp6 = "PROXY TCP6 " + ff + " " + ff + " 65535 65535\r\n";
  EXPECT_EQ(parse(bytes(tcp6)).status, Status::done);
  auto too_long = "PROXY UNKNOWN " + ff + " " + ff + " 65535 655350\r\n";
  r = parse(bytes(too_long));
  EXPECT_EQ(r.status, Status::error);
  EXPECT_EQ(r.reason, Reason::v1_too_long);
  // Without a CRLF, 106 bytes may still become a valid line; 107 cannot.
  EXPECT_EQ(parse(bytes(std::string("PROXY UNKNOWN ") + std::string(91, 'x'))).status, Status::need_more);
  EXPECT_EQ(parse(bytes(std::string("PROXY UNKNOWN ") + std::string(92, 'x'))).reason, Reason::v1_too_long);
}

TEST(ProxyProtocolV1, UnknownShortForm) {
  auto r = parse_every_split(bytes("PROXY UNKNOWN\r\nSSH-2.0"));
  ASSERT_EQ(r.status, Status::done);
  EXPECT_EQ(r.consumed, 15u);
  EXPECT_EQ(r.header.family, Family::unspec);
  EXPECT_FALSE(r.header.has_addresses());
}

TEST(ProxyProtocolV1, StrictRefusals) {
  struct Case {
    const char* in;
    Reason reason;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\n", Reason::not_proxy},
      {"PROXZ", Reason::not_proxy},
      {"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", Reason::v1_syntax},
      {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", Reason::v1_syntax},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", Reason::v1_syntax},
      {"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", Reason::v1_address},
      {"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", Reason::v1_address},
      {"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", Reason::v1_address},
      {"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", Reason::v1_address},
      {"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", Reason::v1_address},
      {"PROXY TCP6 ::1::2 ::1 1 2\r\n", Reason::v1_address},
      {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\x01\r\n", Reason::v1_syntax},
  };
  for (const auto& c : cases) {
    auto r = parse(bytes(c.in));
    EXPECT_EQ(r.status, Status::error) << c.in;
    EXPECT_EQ(r.reason, c.reason) << c.in << ": " << r.message;
    EXPECT_FALSE(r.message.empty());
  }
  // A wrong first byte is refused at once, without waiting for more.
  EXPECT_EQ(parse(bytes("G")).reason, Reason::not_proxy);
  EXPECT_EQ(parse(bytes("PRO")).status, Status::need_more);
  EXPECT_EQ(parse(bytes("PROXY TCP4 1.2.3.4")).status, Status::need_more);
}

std::vector<std::uint8_t> v2(std::uint8_t ver_cmd, std::uint8_t fam, const std::vector<std::uint8_t>& body) {
  std::vector<std::uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  out.push_back(ver_cmd);
  out.push_back(fam);
  out.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  out.push_back(static_cast<std::uint8_t>(body.size() & 0xff));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

TEST(ProxyProtocolV2, TcpOverIpv4WithTlvs) {
  // 192.168.0.1:56324 -> 192.168.0.11:443, an ALPN "h2" TLV, a NOOP (skipped), an authority.
  std::vector<std::uint8_t> body = {192, 168, 0, 1, 192, 168, 0, 11, 0xDC, 0x04, 0x01, 0xBB};
  body = cat(body, {kTlvAlpn, 0, 2, 'h', '2', kTlvNoop, 0, 1, 0, kTlvAuthority, 0, 3, 'a', '.', 'b'});
  const auto in = cat(v2(0x21, 0x11, body), bytes("payload"));
  auto r = parse_every_split(in);
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(r.consumed, in.size() - 7);
  EXPECT_EQ(r.header.version, 2);
  EXPECT_EQ(r.header.command, Command::proxy);
  EXPECT_EQ(r.header.transport, Transport::stream);
  EXPECT_EQ(format_address(r.header.source), "192.168.0.1:56324");
  EXPECT_EQ(format_address(r.header.destination), "192.168.0.11:443");
  ASSERT_EQ(r.header.tlvs.size(), 2u);
  EXPECT_EQ(r.header.tlvs[0], (Tlv{kTlvAlpn, {'h', '2'}}));
  EXPECT_EQ(r.header.tlvs[1], (Tlv{kTlvAuthority, {'a', '.', 'b'}}));
}

TEST(ProxyProtocolV2, Ipv6DatagramUnixAndLocal) {
  auto h = proxied(2, Transport::dgram, ip("2001:db8::7", 5353), ip("::1", 53));
  auto r = parse_every_split(encode(h));
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(r.consumed, 16u + 36u);
  EXPECT_EQ(r.header.transport, Transport::dgram);
  EXPECT_EQ(r.header, h);

  Header u;
  u.family = Family::unix_socket;
  u.source = Address{Family::unix_socket, {}, 0, "/run/client.sock"};
  u.destination = Address{Family::unix_socket, {}, 0, "/run/app.sock"};
  r = parse(encode(u));
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(r.consumed, 16u + 216u);
  EXPECT_EQ(r.header.source.path, "/run/client.sock");
  EXPECT_EQ(r.header.destination.path, "/run/app.sock");

  // LOCAL (a health check): no addresses; the receiver uses the connection's own.
  Header local;
  local.command = Command::local;
  const auto bytes_local = encode(local);
  EXPECT_EQ(bytes_local.size(), 16u);
  r = parse(bytes_local);
  ASSERT_EQ(r.status, Status::done);
  EXPECT_FALSE(r.header.has_addresses());
  // LOCAL must be accepted whatever its address block says (spec: "must not assume zero").
  r = parse(v2(0x20, 0x11, {1, 2, 3}));
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(r.consumed, 19u);
  // PROXY over UNSPEC: accepted, no addresses to use.
  r = parse(v2(0x21, 0x00, {}));
  ASSERT_EQ(r.status, Status::done);
  EXPECT_FALSE(r.header.has_addresses());
}

TEST(ProxyProtocolV2, Refusals) {
  std::vector<std::uint8_t> v4 = {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2};
  struct Case {
    std::vector<std::uint8_t> in;
    Reason reason;
  };
  std::vector<Case> cases = {
      {v2(0x11, 0x11, v4), Reason::v2_version},
      {v2(0x22, 0x11, v4), Reason::v2_command},
      {v2(0x21, 0x41, v4), Reason::v2_family},
      {v2(0x21, 0x13, v4), Reason::v2_family},
      {v2(0x21, 0x11, {1, 2, 3}), Reason::v2_address},
      {v2(0x21, 0x21, v4), Reason::v2_address},
      {v2(0x21, 0x11, cat(v4, {0x01, 0x00})), Reason::v2_tlv},
      {v2(0x21, 0x11, cat(v4, {0x01, 0x00, 0x05, 'a'})), Reason::v2_tlv},
      {v2(0x21, 0x11, cat(v4, {kTlvCrc32c, 0, 2, 0, 0})), Reason::v2_tlv},
      {v2(0x21, 0x11, cat(v4, {kTlvCrc32c, 0, 4, 1, 2, 3, 4})), Reason::v2_checksum},
      {v2(0x21, 0x11, cat(v4, std::vector<std::uint8_t>(5000, 0))), Reason::too_large},
      {{0x0D, 0x0A, 0x0D, 0x0A, 0x01}, Reason::not_proxy},
  };
  for (const auto& c : cases) {
    auto r = parse(c.in);
    EXPECT_EQ(r.status, Status::error) << reason_name(c.reason);
    EXPECT_EQ(r.reason, c.reason) << r.message;
  }
  // The version is refused as soon as its byte is there, the length before the body arrives.
  auto head = v2(0x11, 0x11, v4);
  EXPECT_EQ(parse(std::span(head.data(), 13)).reason, Reason::v2_version);
  auto big = v2(0x21, 0x11, std::vector<std::uint8_t>(60000, 0));
  EXPECT_EQ(parse(std::span(big.data(), 16)).reason, Reason::too_large);
  EXPECT_EQ(parse(std::span(big.data(), 16), Limits{.max_v2_bytes = 70000}).status, Status::need_more);
}

TEST(ProxyProtocolV2, Crc32cChecked) {
  EXPECT_EQ(crc32c(bytes("123456789")), 0xE3069283u);  // the standard check value
  Header h = proxied(2, Transport::stream, ip("10.0.0.1", 1000), ip("10.0.0.2", 80));
  h.tlvs.push_back(Tlv{kTlvCrc32c, {0, 0, 0, 0}});
  auto out = encode(h);
  const auto crc = crc32c(out);
  std::copy_n(std::array<std::uint8_t, 4>{std::uint8_t(crc >> 24), std::uint8_t(crc >> 16), std::uint8_t(crc >> 8),
                                          std::uint8_t(crc)}
                  .begin(),
              4, out.end() - 4);
  auto r = parse(out);
  ASSERT_EQ(r.status, Status::done) << r.message;
  out[17] ^= 1;  // a flipped address bit
  EXPECT_EQ(parse(out).reason, Reason::v2_checksum);
}

TEST(ProxyProtocolEncode, V1FamiliesAndRoundTrip) {
  auto h = proxied(1, Transport::stream, ip("127.0.0.2", 40000), ip("127.0.0.1", 20000));
  auto s = encode(h);
  EXPECT_EQ(std::string(s.begin(), s.end()), "PROXY TCP4 127.0.0.2 127.0.0.1 40000 20000\r\n");
  // An IPv4-mapped pair is written as TCP4; a mixed pair as TCP6 with the IPv4 end mapped.
  h = proxied(1, Transport::stream, ip("::ffff:127.0.0.2", 1), ip("::ffff:127.0.0.1", 2));
  s = encode(h);
  EXPECT_EQ(std::string(s.begin(), s.end()), "PROXY TCP4 127.0.0.2 127.0.0.1 1 2\r\n");
  h = proxied(1, Transport::stream, ip("::1", 1), ip("127.0.0.1", 2));
  s = encode(h);
  EXPECT_EQ(std::string(s.begin(), s.end()), "PROXY TCP6 ::1 ::ffff:127.0.0.1 1 2\r\n");
  auto r = parse(s);
  ASSERT_EQ(r.status, Status::done) << r.message;
  EXPECT_EQ(format_address(r.header.destination), "[::ffff:127.0.0.1]:2");
  // v1 has no datagrams and no LOCAL: UNKNOWN.
  h = proxied(1, Transport::dgram, ip("1.2.3.4", 1), ip("5.6.7.8", 2));
  s = encode(h);
  EXPECT_EQ(std::string(s.begin(), s.end()), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolEncode, V2LayoutMatchesTheSpec) {
  auto h = proxied(2, Transport::stream, ip("192.168.0.1", 56324), ip("192.168.0.11", 443));
  const std::vector<std::uint8_t> want = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
                                          0x21, 0x11, 0x00, 0x0C, 192,  168,  0,    1,    192,  168,  0,    11,
                                          0xDC, 0x04, 0x01, 0xBB};
  EXPECT_EQ(encode(h), want);
}

TEST(ProxyProtocolAddress, Endpoints) {
  EXPECT_EQ(format_address(parse_endpoint("127.0.0.2:5").value()), "127.0.0.2:5");
  EXPECT_EQ(format_address(parse_endpoint("[2001:db8::1]:443").value()), "[2001:db8::1]:443");
  EXPECT_FALSE(parse_endpoint("localhost:80"));
  EXPECT_FALSE(parse_endpoint("1.2.3.4"));
  EXPECT_FALSE(parse_endpoint("1.2.3.4:70000"));
  EXPECT_FALSE(parse_endpoint("[::1]80"));
}

}  // namespace
}  // namespace porthole::proto::pp
