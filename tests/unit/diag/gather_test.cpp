// The pure helpers of gather.cpp and the rtnetlink address codec.
#include "diag/gather.hpp"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <cstring>
#include <optional>

#include <gtest/gtest.h>

#include "diag/ifaddr_codec.hpp"

namespace porthole::diag {
namespace {

router::Mapping mapping(std::uint16_t ext, const std::string& addr, std::uint16_t in) {
  router::Mapping m;
  m.method = router::Method::upnp;
  m.external_port = ext;
  m.internal_address = addr;
  m.internal_port = in;
  m.description = "porthole";
  return m;
}

TEST(FindMapping, MatchesOurAddressAndPort) {
  std::vector<router::Mapping> ms = {mapping(2222, "10.77.0.9", 22), mapping(8025, "10.77.0.2", 25)};
  auto m = find_mapping(ms, "10.77.0.2", 25);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.text, "upnp tcp 8025 -> 10.77.0.2:25 (porthole)");
  EXPECT_FALSE(find_mapping(ms, "10.77.0.2", 22).present);
  auto taken = find_mapping(ms, "10.77.0.2", 2222);
  EXPECT_FALSE(taken.present);
  EXPECT_NE(taken.text.find("taken by another mapping"), std::string::npos);
  ms[1].protocol = router::Protocol::udp;
  EXPECT_FALSE(find_mapping(ms, "10.77.0.2", 25).present);
}

TEST(RouterFact, FromProbeReport) {
  router::ProbeReport rep;
  rep.methods.resize(3);
  rep.methods[0].method = router::Method::pcp;
  rep.methods[0].answered = true;
  rep.methods[0].error = "PCP: NETWORK_FAILURE";
  rep.methods[1].method = router::Method::natpmp;
  rep.methods[1].answered = true;
  rep.methods[1].ok = true;
  rep.methods[1].external_ip = "11.77.0.2";
  rep.methods[2].method = router::Method::upnp;
  auto f = router_fact(Result<router::ProbeReport>(rep));
  ASSERT_TRUE(f.value);
  EXPECT_EQ(f.value->external_ip, "11.77.0.2");
  EXPECT_EQ(f.value->methods[0].name, "PCP");
  EXPECT_EQ(f.value->methods[1].name, "NAT-PMP");
  EXPECT_EQ(f.value->methods[2].name, "UPnP");
  auto bad = router_fact(Result<router::ProbeReport>(make_error("no gateway")));
  EXPECT_FALSE(bad.value);
  EXPECT_TRUE(bad.attempted);
}

std::vector<std::uint8_t> newaddr(const char* v4, std::uint8_t flags,
                                  std::optional<std::uint32_t> ext_flags) {
  std::vector<std::uint8_t> payload(sizeof(ifaddrmsg));
  ifaddrmsg m{};
  m.ifa_family = AF_INET;
  m.ifa_prefixlen = 24;
  m.ifa_flags = flags;
  m.ifa_index = 2;
  std::memcpy(payload.data(), &m, sizeof m);
  auto put_attr = [&](std::uint16_t type, const void* v, std::uint16_t n) {
    std::uint16_t len = static_cast<std::uint16_t>(4 + n);
    std::size_t at = payload.size();
    payload.resize(at + ((len + 3U) & ~3U));
    std::memcpy(payload.data() + at, &len, 2);
    std::memcpy(payload.data() + at + 2, &type, 2);
    std::memcpy(payload.data() + at + 4, v, n);
  };
  std::uint8_t a[4];
  inet_pton(AF_INET, v4, a);
  put_attr(IFA_LOCAL, a, 4);
  if (ext_flags) put_attr(IFA_FLAGS, &*ext_flags, 4);
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(sizeof h + payload.size());
  h.nlmsg_type = RTM_NEWADDR;
  std::vector<std::uint8_t> out(sizeof h);
  std::memcpy(out.data(), &h, sizeof h);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(IfaddrCodec, PermanentAndDynamic) {
  auto buf = newaddr("10.77.0.2", IFA_F_PERMANENT, std::nullopt);
  auto dyn = newaddr("192.168.1.7", 0, 0x100);  // IFA_FLAGS without PERMANENT
  buf.insert(buf.end(), dyn.begin(), dyn.end());
  auto r = parse_getaddr_reply(buf);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->addrs.size(), 2U);
  EXPECT_EQ(r->addrs[0].address, "10.77.0.2");
  EXPECT_TRUE(r->addrs[0].permanent());
  EXPECT_EQ(r->addrs[0].prefix_length, 24);
  EXPECT_EQ(r->addrs[1].address, "192.168.1.7");
  EXPECT_FALSE(r->addrs[1].permanent());
  EXPECT_FALSE(r->done);
  buf.resize(buf.size() - 3);
  EXPECT_FALSE(parse_getaddr_reply(buf));
  EXPECT_EQ(build_getaddr_request(3).size(), sizeof(nlmsghdr) + sizeof(ifaddrmsg));
}

}  // namespace
}  // namespace porthole::diag
