// The exit's destination check: every IP spelling normalised, special addresses refused unless
// listed narrowly, every resolved address checked.
#include <gtest/gtest.h>

#include "policy/dest_check.hpp"

namespace porthole::policy {
namespace {

std::string canon(std::string_view s) {
  auto a = parse_dest_ip(s);
  return a ? a->text() : "<not an address>";
}

TEST(DestIp, EverySpellingOfLoopback) {
  for (const char* s : {"127.0.0.1", "127.1", "127.0.1", "0x7f.1", "0x7F.0.0.1", "2130706433", "017700000001",
                        "0177.0.0.1", "0x7f000001", "0177.1", "127.0x0.0.01", "::ffff:127.0.0.1", "[::ffff:127.0.0.1]",
                        "::ffff:7f00:1", "::127.0.0.1", "::ffff:0:127.0.0.1", "0:0:0:0:0:ffff:7f00:0001"}) {
    EXPECT_EQ(canon(s), "127.0.0.1") << s;
  }
}

TEST(DestIp, OtherForms) {
  EXPECT_EQ(canon("0"), "0.0.0.0");
  EXPECT_EQ(canon("0x0"), "0.0.0.0");
  EXPECT_EQ(canon("10.1"), "10.0.0.1");
  EXPECT_EQ(canon("192.168.257"), "192.168.1.1");
  EXPECT_EQ(canon("::1"), "::1");
  EXPECT_EQ(canon("[::1]"), "::1");
  EXPECT_EQ(canon("fe80::1%eth0"), "fe80::1%eth0");
  EXPECT_EQ(canon("[fe80::1%lo]"), "fe80::1%lo");
  EXPECT_EQ(canon("::"), "::");
  EXPECT_EQ(canon("2001:DB8::A"), "2001:db8::a");
}

TEST(DestIp, NotAddresses) {
  for (const char* s : {"", "localhost", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "08", "0x", "1..2", "1.2.3.",
                        ".1.2.3", "4294967296", "0x100000000", "1.0x1000000", "1.2.0x10000", "fe80::1%",
                        "fe80::1%a b", "::g", "1.2.3.4 ", " 1.2.3.4", "[1.2.3.4", "example.com", "09.1.1.1"}) {
    EXPECT_FALSE(parse_dest_ip(s)) << s;
  }
}

DestPolicy policy(std::vector<std::string> specs) {
  auto p = DestPolicy::parse(specs);
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : DestPolicy{};
}

DestVerdict by_ip(const DestPolicy& p, std::string_view ip, std::uint16_t port) {
  auto a = parse_dest_ip(ip);
  EXPECT_TRUE(a) << ip;
  std::vector<DestAddr> v{*a};
  return p.check("", v, port);
}

TEST(DestPolicy, NothingAllowedByDefault) {
  auto p = policy({});
  EXPECT_EQ(by_ip(p, "93.184.216.34", 80).code, "not_allowed");
}

TEST(DestPolicy, CidrAndPorts) {
  auto p = policy({"10.0.0.0/8:22,80,8000-8100", "[2001:db8::/32]:443", "192.168.1.7"});
  EXPECT_TRUE(by_ip(p, "10.1.2.3", 22).allowed);
  EXPECT_TRUE(by_ip(p, "10.1.2.3", 8050).allowed);
  EXPECT_TRUE(by_ip(p, "012.1.2.3", 80).allowed);  // octal 012 = 10
  EXPECT_FALSE(by_ip(p, "10.1.2.3", 23).allowed);
  EXPECT_FALSE(by_ip(p, "11.1.2.3", 22).allowed);
  EXPECT_TRUE(by_ip(p, "2001:db8::5", 443).allowed);
  EXPECT_FALSE(by_ip(p, "2001:db8::5", 80).allowed);
  EXPECT_TRUE(by_ip(p, "192.168.1.7", 5432).allowed);
  EXPECT_TRUE(by_ip(p, "::ffff:192.168.1.7", 5432).allowed);
  EXPECT_FALSE(by_ip(p, "192.168.1.8", 5432).allowed);
  EXPECT_EQ(by_ip(p, "10.1.2.3", 0).code, "bad_port");
}

TEST(DestPolicy, SpecialAddressesNeedANarrowEntry) {
  auto any = policy({"0.0.0.0/0", "::/0"});
  EXPECT_TRUE(by_ip(any, "8.8.8.8", 53).allowed);
  EXPECT_TRUE(by_ip(any, "2001:db8::1", 53).allowed);
  const std::pair<const char*, const char*> cases[] = {
      {"127.0.0.1", "loopback"},     {"127.1", "loopback"},        {"0x7f.1", "loopback"},
      {"2130706433", "loopback"},    {"017700000001", "loopback"}, {"::ffff:127.0.0.1", "loopback"},
      {"::127.0.0.2", "loopback"},   {"::1", "loopback"},          {"0.0.0.0", "unspecified"},
      {"0", "unspecified"},          {"::", "unspecified"},        {"169.254.169.254", "link_local"},
      {"fe80::1%lo", "link_local"},  {"224.0.0.1", "multicast"},   {"ff02::1", "multicast"},
      {"255.255.255.255", "broadcast"}, {"240.0.0.1", "reserved"}, {"64:ff9b::7f00:1", "loopback"},
      {"::ffff:0:7f00:1", "loopback"}, {"fec0::1", "reserved"},
  };
  for (auto [ip, code] : cases) {
    auto v = by_ip(any, ip, 80);
    EXPECT_FALSE(v.allowed) << ip;
    EXPECT_EQ(v.code, code) << ip;
  }
  auto lo = policy({"127.0.0.0/8:8080", "fe80::/10"});
  EXPECT_TRUE(by_ip(lo, "127.0.0.3", 8080).allowed);
  EXPECT_TRUE(by_ip(lo, "0x7f.3", 8080).allowed);
  EXPECT_FALSE(by_ip(lo, "127.0.0.3", 8081).allowed);
  EXPECT_TRUE(by_ip(lo, "fe80::1%eth0", 22).allowed);
  auto wide = policy({"64.0.0.0/2"});  // covers 127/8 but is wider than it
  EXPECT_EQ(by_ip(wide, "127.0.0.1", 80).code, "loopback");
}

TEST(DestPolicy, OwnAddressesNeedTheExactAddress) {
  auto p = policy({"192.168.0.0/16"});
  p.set_own_addresses({parse_dest_ip("192.168.1.5")->ip});
  EXPECT_EQ(by_ip(p, "192.168.1.5", 22).code, "own_address");
  EXPECT_TRUE(by_ip(p, "192.168.1.6", 22).allowed);
  auto q = policy({"192.168.0.0/16", "192.168.1.5:22"});
  q.set_own_addresses({parse_dest_ip("192.168.1.5")->ip});
  EXPECT_TRUE(by_ip(q, "192.168.1.5", 22).allowed);
  EXPECT_FALSE(by_ip(q, "192.168.1.5", 23).allowed);
}

TEST(DestPolicy, NamesAreCheckedOnEveryResolvedAddress) {
  auto p = policy({"db.corp.test:5432", "*.web.test:80,443", "10.0.0.0/8"});
  std::vector<DestAddr> ok{*parse_dest_ip("203.0.113.9")};
  EXPECT_TRUE(p.check("db.corp.test", ok, 5432).allowed);
  EXPECT_FALSE(p.check("db.corp.test", ok, 22).allowed);
  EXPECT_TRUE(p.check("a.web.test", ok, 443).allowed);
  EXPECT_FALSE(p.check("web.test", ok, 443).allowed);
  EXPECT_FALSE(p.check("other.test", ok, 443).allowed);  // a name not listed: its address must be
  std::vector<DestAddr> ten{*parse_dest_ip("10.9.9.9")};
  EXPECT_TRUE(p.check("other.test", ten, 22).allowed);  // ... and here it is
  // An allowed name that resolves to loopback (DNS rebinding) is refused.
  std::vector<DestAddr> lo{*parse_dest_ip("127.0.0.3")};
  auto v = p.check("db.corp.test", lo, 5432);
  EXPECT_FALSE(v.allowed);
  EXPECT_EQ(v.code, "loopback");
  EXPECT_NE(v.reason.find("db.corp.test resolves to 127.0.0.3: 127.0.0.3 is a loopback"), std::string::npos) << v.reason;
  // One bad address among good ones refuses the whole name.
  std::vector<DestAddr> mixed{*parse_dest_ip("203.0.113.9"), *parse_dest_ip("::1")};
  EXPECT_FALSE(p.check("db.corp.test", mixed, 5432).allowed);
  std::vector<DestAddr> none;
  EXPECT_EQ(p.check("db.corp.test", none, 5432).code, "no_address");
}

TEST(DestPolicy, BadSpecs) {
  for (const char* s : {"", "10.0.0.0/33", "10.0.0.0/x", "::/129", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:70000",
                        "10.0.0.1:80-22", "10.0.0.1:80,", "[::1", "[::1]x", "bad_name!:80", "-x.test"}) {
    std::vector<std::string> v{s};
    EXPECT_FALSE(DestPolicy::parse(v)) << s;
  }
}

TEST(DestSplit, HostAndPort) {
  auto a = split_dest("example.com:443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 443);
  auto b = split_dest("[fe80::1%eth0]:22");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "fe80::1%eth0");
  EXPECT_FALSE(split_dest("::1:80"));
  EXPECT_FALSE(split_dest("host"));
  EXPECT_FALSE(split_dest("host:0"));
  EXPECT_FALSE(split_dest(":80"));
  EXPECT_EQ(join_dest("::1", 80), "[::1]:80");
  EXPECT_EQ(join_dest("a.test", 80), "a.test:80");
}

}  // namespace
}  // namespace porthole::policy
