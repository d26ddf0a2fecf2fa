#include "diag/sockdiag_codec.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diag/netlink_codec.hpp"

namespace porthole::diag {
namespace {

using Buf = std::vector<std::uint8_t>;

void put(Buf& b, const void* p, std::size_t n) {
  auto* c = static_cast<const std::uint8_t*>(p);
  b.insert(b.end(), c, c + n);
}

Buf nlmsg(std::uint16_t type, const Buf& payload) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(sizeof h + payload.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = NLM_F_MULTI;
  Buf b;
  put(b, &h, sizeof h);
  b.insert(b.end(), payload.begin(), payload.end());
  while (b.size() % 4) b.push_back(0);
  return b;
}

Buf attr(std::uint16_t type, const Buf& value) {
  std::uint16_t len = static_cast<std::uint16_t>(4 + value.size());
  Buf b;
  put(b, &len, 2);
  put(b, &type, 2);
  b.insert(b.end(), value.begin(), value.end());
  while (b.size() % 4) b.push_back(0);
  return b;
}

Buf diag_msg(int af, std::uint8_t state, const char* src, std::uint16_t sport, std::uint32_t inode,
             std::uint32_t ifindex = 0, const Buf& attrs = {}) {
  inet_diag_msg m{};
  m.idiag_family = static_cast<std::uint8_t>(af);
  m.idiag_state = state;
  m.id.idiag_sport = htons(sport);
  inet_pton(af, src, m.id.idiag_src);
  m.id.idiag_if = ifindex;
  m.idiag_inode = inode;
  m.idiag_uid = 1000;
  Buf b;
  put(b, &m, sizeof m);
  b.insert(b.end(), attrs.begin(), attrs.end());
  return b;
}

Buf done() {
  int zero = 0;
  Buf p;
  put(p, &zero, sizeof zero);
  return nlmsg(NLMSG_DONE, p);
}

Buf cat(std::initializer_list<Buf> parts) {
  Buf out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(SockdiagCodec, RequestLayout) {
  auto req = build_sockdiag_request(6, Proto::udp, state_bit(SockState::listen), 7);
  ASSERT_EQ(req.size(), sizeof(nlmsghdr) + sizeof(inet_diag_req_v2));
  nlmsghdr h{};
  std::memcpy(&h, req.data(), sizeof h);
  EXPECT_EQ(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
  EXPECT_EQ(h.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
  EXPECT_EQ(h.nlmsg_seq, 7U);
  inet_diag_req_v2 r{};
  std::memcpy(&r, req.data() + sizeof h, sizeof r);
  EXPECT_EQ(r.sdiag_family, AF_INET6);
  EXPECT_EQ(r.sdiag_protocol, IPPROTO_UDP);
  EXPECT_EQ(r.idiag_states, 1U << 10);
}

TEST(SockdiagCodec, ParsesIpv4AndIpv6Entries) {
  Buf v6only = attr(INET_DIAG_SKV6ONLY, {1});
  auto buf = cat({nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(AF_INET, 10, "127.0.0.1", 5432, 11)),
                  nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(AF_INET6, 10, "::", 8080, 12, 3, v6only)), done()});
  auto r = parse_sockdiag_reply(buf, Proto::tcp);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->done);
  ASSERT_EQ(r->entries.size(), 2U);
  EXPECT_EQ(r->entries[0].family, 4);
  EXPECT_EQ(r->entries[0].local_addr, "127.0.0.1");
  EXPECT_EQ(r->entries[0].local_port, 5432);
  EXPECT_EQ(r->entries[0].inode, 11U);
  EXPECT_EQ(r->entries[0].uid, 1000U);
  EXPECT_FALSE(r->entries[0].v6only.has_value());
  EXPECT_EQ(r->entries[1].family, 6);
  EXPECT_EQ(r->entries[1].local_addr, "::");
  EXPECT_EQ(r->entries[1].ifindex, 3U);
  EXPECT_EQ(r->entries[1].v6only, true);
  EXPECT_STREQ(state_name(r->entries[1].state), "LISTEN");
}

TEST(SockdiagCodec, PartialDumpIsNotDone) {
  auto r =
      parse_sockdiag_reply(nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(AF_INET, 7, "0.0.0.0", 53, 1)), Proto::udp);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->done);
  ASSERT_EQ(r->entries.size(), 1U);
  EXPECT_EQ(r->entries[0].proto, Proto::udp);
  EXPECT_STREQ(state_name(r->entries[0].state), "UNCONN");
}

TEST(SockdiagCodec, KernelErrorIsAnError) {
  int code = -13;
  Buf p;
  put(p, &code, sizeof code);
  p.resize(20, 0);
  auto r = parse_sockdiag_reply(nlmsg(NLMSG_ERROR, p), Proto::tcp);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("kernel error 13"), std::string::npos);
}

TEST(SockdiagCodec, RejectsBadLengths) {
  auto good = nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(AF_INET, 10, "0.0.0.0", 22, 1));
  for (std::size_t cut : {1U, 8U, 15U, 40U}) {
    Buf b(good.begin(), good.begin() + static_cast<long>(cut));
    EXPECT_FALSE(parse_sockdiag_reply(b, Proto::tcp)) << cut;
  }
  Buf huge = good;
  std::uint32_t len = 1 << 30;
  std::memcpy(huge.data(), &len, 4);
  EXPECT_FALSE(parse_sockdiag_reply(huge, Proto::tcp));
  std::uint32_t tiny = 3;
  std::memcpy(huge.data(), &tiny, 4);
  EXPECT_FALSE(parse_sockdiag_reply(huge, Proto::tcp));
}

TEST(SockdiagCodec, SkipsShortPayloadsAndUnknownFamilies) {
  Buf other = diag_msg(AF_INET, 10, "0.0.0.0", 22, 1);
  other[0] = 99;  // unknown family
  auto buf = cat({nlmsg(SOCK_DIAG_BY_FAMILY, Buf{2, 10, 0, 0}), nlmsg(SOCK_DIAG_BY_FAMILY, other),
                  nlmsg(0x77, Buf{}), done()});
  auto r = parse_sockdiag_reply(buf, Proto::tcp);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->entries.empty());
  EXPECT_EQ(r->skipped, 3U);
  EXPECT_TRUE(r->done);
}

TEST(SockdiagCodec, BadAttributeKeepsFixedPart) {
  Buf broken = {200, 0, INET_DIAG_SKV6ONLY, 0, 1};  // attribute claims 200 bytes
  auto r = parse_sockdiag_reply(nlmsg(SOCK_DIAG_BY_FAMILY, diag_msg(AF_INET6, 10, "::1", 443, 5, 0, broken)),
                                Proto::tcp);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->entries.size(), 1U);
  EXPECT_EQ(r->entries[0].local_addr, "::1");
  EXPECT_FALSE(r->entries[0].v6only.has_value());
}

TEST(NetlinkCodec, AttributeWalkStopsOnBadLength) {
  int n = 0;
  auto ok = netlink::for_each_attr(cat({attr(1, {1, 2, 3}), attr(2, {})}), [&](const netlink::Attr& a) {
    ++n;
    if (a.type == 1) {
      EXPECT_EQ(a.value.size(), 3U);
    }
  });
  EXPECT_TRUE(ok);
  EXPECT_EQ(n, 2);
  EXPECT_FALSE(netlink::for_each_attr(Buf{2, 0, 1, 0}, [](const netlink::Attr&) {}));
  Buf v;
  std::uint32_t x = 0;
  EXPECT_FALSE(netlink::read_u32(v, 0, x));
  EXPECT_FALSE(netlink::read_u32(Buf{1, 2, 3, 4}, 1, x));
}

TEST(NetlinkCodec, DumpWalkStopsAtDoneOrErrorAndSkipsAcks) {
  int zero = 0, eperm = -1;
  Buf ack, err;
  put(ack, &zero, sizeof zero);
  put(err, &eperm, sizeof eperm);
  ack.resize(20, 0);
  err.resize(20, 0);
  std::vector<std::uint16_t> seen;
  auto see = [&](const netlink::Message& m) { seen.push_back(m.type); };
  auto r = netlink::for_each_dump_message(
      cat({nlmsg(0x70, {}), nlmsg(NLMSG_ERROR, ack), nlmsg(NLMSG_NOOP, {}), done(), nlmsg(0x71, {})}), "test",
      see);
  ASSERT_TRUE(r);
  EXPECT_TRUE(*r);
  EXPECT_EQ(seen, std::vector<std::uint16_t>{0x70});  // nothing after DONE
  seen.clear();
  r = netlink::for_each_dump_message(cat({nlmsg(NLMSG_ERROR, err), nlmsg(0x72, {})}), "test", see);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "test: kernel error 1 (Operation not permitted)");
  EXPECT_TRUE(seen.empty());
  r = netlink::for_each_dump_message(nlmsg(NLMSG_ERROR, Buf{1, 2}), "test", see);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("test: netlink: truncated NLMSG_ERROR"), std::string::npos);
  r = netlink::for_each_dump_message(nlmsg(0x73, {}), "test", see);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);  // the dump goes on in the next chunk
}

}  // namespace
}  // namespace porthole::diag
