// The SOCKS5 UDP request header (RFC 1928 section 7), sans-I/O.
#include <gtest/gtest.h>

#include "proto/socks5_udp.hpp"

namespace porthole::proto::socks5 {
namespace {

using B = std::vector<std::uint8_t>;

TEST(Socks5Udp, Ipv4WithData) {
  B d{0, 0, 0, 1, 127, 0, 0, 53, 0x14, 0xe9, 'h', 'i'};
  auto p = parse_udp(d);
  ASSERT_EQ(p.status, UdpStatus::ok) << p.error;
  EXPECT_EQ(p.header.host, "127.0.0.53");
  EXPECT_EQ(p.header.port, 5353);
  EXPECT_EQ(p.header_size, 10u);
  EXPECT_EQ(p.header.atyp, 1);
}

TEST(Socks5Udp, Ipv6AndDomain) {
  B v6{0, 0, 0, 4};
  v6.insert(v6.end(), 15, 0);
  v6.push_back(1);
  v6.push_back(0);
  v6.push_back(53);
  auto p = parse_udp(v6);
  ASSERT_EQ(p.status, UdpStatus::ok);
  EXPECT_EQ(p.header.host, "::1");
  EXPECT_EQ(p.header_size, 22u);
  B dom{0, 0, 0, 3, 8, 'd', 'n', 's', '.', 't', 'e', 's', 't', 0, 53};
  p = parse_udp(dom);
  ASSERT_EQ(p.status, UdpStatus::ok);
  EXPECT_EQ(p.header.host, "dns.test");
  EXPECT_EQ(p.header_size, dom.size());  // an empty datagram is a datagram
}

TEST(Socks5Udp, FragmentIsReportedApart) {
  B d{0, 0, 1, 1, 10, 0, 0, 1, 0, 53, 'x'};
  auto p = parse_udp(d);
  EXPECT_EQ(p.status, UdpStatus::fragment);
  EXPECT_EQ(p.header.frag, 1);
  d[2] = 0x81;  // the "last fragment" bit too
  EXPECT_EQ(parse_udp(d).status, UdpStatus::fragment);
}

TEST(Socks5Udp, Malformed) {
  EXPECT_EQ(parse_udp(B{}).status, UdpStatus::malformed);
  EXPECT_EQ(parse_udp(B{0, 0, 0}).status, UdpStatus::malformed);
  EXPECT_EQ(parse_udp(B{0, 1, 0, 1, 1, 2, 3, 4, 0, 53}).status, UdpStatus::malformed);  // RSV
  EXPECT_EQ(parse_udp(B{0, 0, 0, 2, 1, 2, 3, 4, 0, 53}).status, UdpStatus::malformed);  // ATYP
  EXPECT_EQ(parse_udp(B{0, 0, 0, 3, 0, 0, 53}).status, UdpStatus::malformed);            // empty name
  EXPECT_EQ(parse_udp(B{0, 0, 0, 3, 3, 'a', ' ', 'b', 0, 53}).status, UdpStatus::malformed);
  EXPECT_EQ(parse_udp(B{0, 0, 0, 3, 5, 'a', 'b'}).status, UdpStatus::malformed);         // short
  B v4{0, 0, 0, 1, 1, 2, 3, 4, 0, 53};
  for (std::size_t n = 0; n < v4.size(); ++n) {
    EXPECT_EQ(parse_udp(std::span(v4.data(), n)).status, UdpStatus::malformed) << n;
  }
  auto p = parse_udp(B{0, 0, 0, 9});
  EXPECT_NE(p.error.find("address type"), std::string::npos) << p.error;
}

TEST(Socks5Udp, EncodeRoundTrips) {
  B out;
  const std::uint8_t ip4[4] = {192, 0, 2, 7};
  append_udp_header(out, ip4, 53);
  EXPECT_EQ(out, (B{0, 0, 0, 1, 192, 0, 2, 7, 0, 53}));
  out.clear();
  std::uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8};
  ip6[15] = 1;
  append_udp_header(out, ip6, 443);
  auto p = parse_udp(out);
  ASSERT_EQ(p.status, UdpStatus::ok);
  EXPECT_EQ(p.header.host, "2001:db8::1");
  EXPECT_EQ(p.header.port, 443);
  out.clear();
  append_udp_header(out, std::string_view("example.org"), 53);
  p = parse_udp(out);
  ASSERT_EQ(p.status, UdpStatus::ok);
  EXPECT_EQ(p.header.host, "example.org");
}

}  // namespace
}  // namespace porthole::proto::socks5
