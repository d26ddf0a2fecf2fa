// The PROXY header the agent writes to the local service, from the OPEN metadata.
#include "agent/upstream_proxy.hpp"

#include <gtest/gtest.h>

namespace porthole::agent {
namespace {

namespace pp = proto::pp;

TEST(UpstreamProxyHeader, FromOpenMeta) {
  proto::OpenMeta m{"web", "127.0.0.2:40000", "http", "127.0.0.1:8080"};
  EXPECT_EQ(upstream_proxy_header(0, m), "");
  EXPECT_EQ(upstream_proxy_header(1, m), "PROXY TCP4 127.0.0.2 127.0.0.1 40000 8080\r\n");
  const auto v2 = upstream_proxy_header(2, m);
  auto r = pp::parse(std::span(reinterpret_cast<const std::uint8_t*>(v2.data()), v2.size()));
  ASSERT_EQ(r.status, pp::Status::done) << r.message;
  EXPECT_EQ(r.consumed, v2.size());
  EXPECT_EQ(pp::format_address(r.header.source), "127.0.0.2:40000");
  EXPECT_EQ(pp::format_address(r.header.destination), "127.0.0.1:8080");
  EXPECT_EQ(r.header.transport, pp::Transport::stream);
  // A datagram header for udp tunnels.
  const auto dg = upstream_proxy_header(2, m, pp::Transport::dgram);
  EXPECT_EQ(static_cast<std::uint8_t>(dg[13]), 0x12);
}

TEST(UpstreamProxyHeader, IPv6AndMixedFamilies) {
  proto::OpenMeta m{"db", "[2001:db8::9]:5000", "", "127.0.0.1:20000"};
  EXPECT_EQ(upstream_proxy_header(1, m), "PROXY TCP6 2001:db8::9 ::ffff:127.0.0.1 5000 20000\r\n");
  m.dest = "[::1]:20000";
  EXPECT_EQ(upstream_proxy_header(1, m), "PROXY TCP6 2001:db8::9 ::1 5000 20000\r\n");
}

TEST(UpstreamProxyHeader, Fallbacks) {
  // An older relay sends no `dest`: the unspecified address of the visitor's family, port 0.
  proto::OpenMeta m{"web", "10.1.2.3:999", "", ""};
  EXPECT_EQ(upstream_proxy_header(1, m), "PROXY TCP4 10.1.2.3 0.0.0.0 999 0\r\n");
  // No usable visitor address: "unknown" (v1) / LOCAL (v2); the service uses the real ones.
  m.visitor = "";
  EXPECT_EQ(upstream_proxy_header(1, m), "PROXY UNKNOWN\r\n");
  const auto v2 = upstream_proxy_header(2, m);
  ASSERT_EQ(v2.size(), 16u);
  EXPECT_EQ(static_cast<std::uint8_t>(v2[12]), 0x20);
  EXPECT_EQ(local_proxy_header(1), "PROXY UNKNOWN\r\n");
  EXPECT_EQ(local_proxy_header(0), "");
}

}  // namespace
}  // namespace porthole::agent
