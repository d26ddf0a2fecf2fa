// diagnose(): every scenario doctor must explain, from injected facts (no sockets).
#include "diag/facts.hpp"

#include <gtest/gtest.h>

#include "diag/report.hpp"

namespace porthole::diag {
namespace {

const Check& check(const Report& r, const std::string& id) {
  for (const auto& c : r.checks) {
    if (c.id == id) return c;
  }
  static Check none;
  ADD_FAILURE() << "no check " << id;
  return none;
}

RouterFact router_ok(const std::string& ext) {
  return RouterFact{
      {{"PCP", true, true, ext, ""}, {"NAT-PMP", true, true, ext, ""}, {"UPnP", true, true, ext, ""}}, ext};
}

RouterFact router_refusing() {
  return RouterFact{{{"PCP", true, false, "", "PCP: NETWORK_FAILURE"},
                     {"NAT-PMP", true, false, "", "NAT-PMP: NETWORK_FAILURE"},
                     {"UPnP", true, false, "", "UPnP: the IGD reports it is not connected"}},
                    ""};
}

RouterFact router_silent() {
  return RouterFact{{{"PCP", false, false, "", "PCP: no answer"},
                     {"NAT-PMP", false, false, "", "NAT-PMP: no answer"},
                     {"UPnP", false, false, "", "UPnP: no IGD answered SSDP discovery"}},
                    ""};
}

// A healthy home: service on 0.0.0.0, firewall open, public router with a mapping.
Facts healthy(std::uint16_t port = 25565) {
  Facts f;
  f.port = port;
  f.listeners = Fact<std::vector<Listener>>::known({{"0.0.0.0", Exposure::all, "42/java"}});
  f.firewall = Fact<FirewallFact>::known({});
  f.network = Fact<NetworkFact>::known({"eth0", "10.77.0.1", "10.77.0.2", 24, false});
  f.router = Fact<RouterFact>::known(router_ok("11.77.0.2"));
  f.mapping = Fact<MappingFact>::known({true, "pcp tcp 25565 -> 10.77.0.2:25565"});
  return f;
}

TEST(Diagnose, HealthyWithoutRelay) {
  auto r = diagnose(healthy());
  EXPECT_EQ(r.verdict, "ok");
  EXPECT_EQ(r.nat, Nat::public_ip);
  EXPECT_FALSE(r.has_failures());
  EXPECT_EQ(check(r, "reachable").status, Status::skip);
  EXPECT_EQ(check(r, "listening").status, Status::ok);
  EXPECT_NE(check(r, "listening").detail.find("0.0.0.0:25565 (42/java)"), std::string::npos);
  EXPECT_NE(r.recommendation.find("should be reachable"), std::string::npos);
}

TEST(Diagnose, ReachableViaRelay) {
  auto f = healthy();
  f.relay = Fact<RelayFact>::known({"11.77.0.2", true, ""});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "reachable");
  EXPECT_EQ(check(r, "reachable").status, Status::ok);
  EXPECT_NE(r.recommendation.find("11.77.0.2:25565"), std::string::npos);
}

TEST(Diagnose, NothingListening) {
  auto f = healthy();
  f.listeners = Fact<std::vector<Listener>>::known({});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "not_listening");
  EXPECT_EQ(check(r, "listening").status, Status::fail);
  EXPECT_TRUE(r.has_failures());
}

TEST(Diagnose, LoopbackOnly) {
  auto f = healthy(8080);
  f.listeners = Fact<std::vector<Listener>>::known(
      {{"127.0.0.1", Exposure::loopback, ""}, {"::1", Exposure::loopback, ""}});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "loopback_only");
  EXPECT_EQ(check(r, "listening").fix, "bind to 0.0.0.0 or use `porthole tcp 8080`");
  EXPECT_NE(r.recommendation.find("porthole tcp 8080"), std::string::npos);
}

TEST(Diagnose, BoundToAnotherAddressIsAWarning) {
  auto f = healthy();
  f.listeners = Fact<std::vector<Listener>>::known({{"172.17.0.1", Exposure::address, ""}});
  auto r = diagnose(f);
  EXPECT_EQ(check(r, "listening").status, Status::warn);
  EXPECT_NE(check(r, "listening").fix.find("10.77.0.2"), std::string::npos);
}

TEST(Diagnose, FirewallDrops) {
  auto f = healthy();
  f.firewall = Fact<FirewallFact>::known(
      {FirewallVerdict::blocked, "table inet filter chain input", "tcp dport 25565 drop (handle 4)"});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "firewall");
  EXPECT_EQ(check(r, "firewall").status, Status::fail);
  EXPECT_NE(check(r, "firewall").fix.find("nft insert rule inet filter input tcp dport 25565 accept"),
            std::string::npos);
  EXPECT_NE(r.recommendation.find("firewall drops port 25565"), std::string::npos);
}

TEST(Diagnose, FirewallMaybeIsAWarning) {
  auto f = healthy();
  f.firewall = Fact<FirewallFact>::known({FirewallVerdict::maybe_blocked, "table ip filter chain INPUT", ""});
  auto r = diagnose(f);
  EXPECT_EQ(check(r, "firewall").status, Status::warn);
  EXPECT_EQ(r.verdict, "ok");
}

TEST(Diagnose, FirewallUnreadableIsSkipped) {
  auto f = healthy();
  f.firewall = Fact<FirewallFact>::failed("nftables: permission denied");
  auto r = diagnose(f);
  EXPECT_EQ(check(r, "firewall").status, Status::skip);
  EXPECT_NE(check(r, "firewall").detail.find("permission denied"), std::string::npos);
}

TEST(Diagnose, CgnatFromRouterAddress) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_ok("100.64.9.2"));
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::cgnat);
  EXPECT_EQ(r.verdict, "cgnat");
  EXPECT_EQ(r.recommendation, "behind CGNAT: port forwarding cannot work here; use `porthole tcp 25565`");
}

TEST(Diagnose, CgnatFromRefusalAndHops) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_refusing());
  f.mapping = Fact<MappingFact>::skipped("the router maps nothing");
  f.relay = Fact<RelayFact>::failed("relay probe is not available yet");
  f.hops = Fact<std::vector<std::string>>::known({"10.77.0.1", "100.64.9.1", "11.77.0.1"});
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::cgnat);
  EXPECT_EQ(r.verdict, "cgnat");
  EXPECT_EQ(check(r, "router").status, Status::fail);
  EXPECT_EQ(check(r, "reachable").status, Status::skip);
  EXPECT_NE(check(r, "nat").detail.find("100.64.9.1"), std::string::npos);
}

TEST(Diagnose, CgnatFromRelayView) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_refusing());
  f.relay = Fact<RelayFact>::known({"100.64.9.2", false, "timed out"});
  EXPECT_EQ(diagnose(f).verdict, "cgnat");
}

TEST(Diagnose, CgnatOnTheHostItself) {
  auto f = healthy();
  f.network = Fact<NetworkFact>::known({"wwan0", "100.72.0.1", "100.72.3.4", 30, true});
  f.router = Fact<RouterFact>::known(router_silent());
  EXPECT_EQ(diagnose(f).verdict, "cgnat");
}

TEST(Diagnose, DoubleNatFromRouterAddress) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_ok("192.168.77.2"));
  f.mapping = Fact<MappingFact>::known({true, "upnp tcp 25565 -> 10.77.0.2:25565"});
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::double_nat);
  EXPECT_EQ(r.verdict, "double_nat");
  EXPECT_NE(r.recommendation.find("both routers"), std::string::npos);
}

TEST(Diagnose, DoubleNatFromRefusalAndHops) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_refusing());
  f.mapping = Fact<MappingFact>::skipped("the router maps nothing");
  f.hops = Fact<std::vector<std::string>>::known({"10.77.0.1", "192.168.77.1", "11.77.0.1"});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "double_nat");
  EXPECT_NE(check(r, "nat").detail.find("10.77.0.1 -> 192.168.77.1"), std::string::npos);
}

TEST(Diagnose, RefusalWithoutMoreInformation) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_refusing());
  f.mapping = Fact<MappingFact>::skipped("the router maps nothing");
  f.relay = Fact<RelayFact>::known({"11.77.0.2", false, "timed out"});
  f.hops = Fact<std::vector<std::string>>::known({"10.77.0.1", "", ""});
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::router_refuses);
  EXPECT_EQ(r.verdict, "router_refuses");
}

TEST(Diagnose, MismatchBetweenRouterAndRelay) {
  auto f = healthy();
  f.relay = Fact<RelayFact>::known({"11.99.0.7", false, "timed out"});
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::mismatch);
  EXPECT_EQ(r.verdict, "mismatch");
}

TEST(Diagnose, RouterWithoutProtocols) {
  auto f = healthy();
  f.router = Fact<RouterFact>::known(router_silent());
  f.mapping = Fact<MappingFact>::skipped("the router maps nothing");
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::unknown);
  EXPECT_EQ(r.verdict, "no_router_protocol");
  EXPECT_NE(check(r, "router").fix.find("enable UPnP"), std::string::npos);
  EXPECT_NE(r.recommendation.find("10.77.0.2"), std::string::npos);
}

TEST(Diagnose, NoMappingYet) {
  auto f = healthy();
  f.mapping = Fact<MappingFact>::known({false, ""});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "no_mapping");
  EXPECT_EQ(check(r, "mapping").fix, "`porthole map add 25565`");
}

TEST(Diagnose, MappingInPlaceButUnreachable) {
  auto f = healthy();
  f.relay = Fact<RelayFact>::known({"11.77.0.2", false, "connection timed out"});
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "unreachable");
  EXPECT_EQ(check(r, "reachable").status, Status::fail);
}

TEST(Diagnose, IspBlockedPort) {
  auto f = healthy(25);
  f.mapping = Fact<MappingFact>::known({true, "upnp tcp 25 -> 10.77.0.2:25"});
  auto r = diagnose(f);
  EXPECT_EQ(check(r, "isp_block").status, Status::warn);
  EXPECT_EQ(r.verdict, "ok");
  f.relay = Fact<RelayFact>::known({"11.77.0.2", false, "timed out"});
  r = diagnose(f);
  EXPECT_EQ(r.verdict, "isp_block");
  EXPECT_NE(r.recommendation.find("porthole map add 8025:25"), std::string::npos);
  for (std::uint16_t p : {25, 80, 135, 137, 139, 445}) EXPECT_TRUE(isp_commonly_blocked(p)) << p;
  for (std::uint16_t p : {22, 443, 8080, 25565}) EXPECT_FALSE(isp_commonly_blocked(p)) << p;
}

TEST(Diagnose, DhcpLeaseHint) {
  auto f = healthy();
  f.network.value->lan_dynamic = true;
  auto r = diagnose(f);
  EXPECT_EQ(check(r, "dhcp").status, Status::warn);
  EXPECT_NE(check(r, "dhcp").fix.find("static lease"), std::string::npos);
  f.network.value->lan_dynamic = std::nullopt;
  EXPECT_EQ(check(diagnose(f), "dhcp").status, Status::skip);
  f.network.value->lan_dynamic = false;
  EXPECT_EQ(check(diagnose(f), "dhcp").status, Status::ok);
}

TEST(Diagnose, Offline) {
  Facts f;
  f.network = Fact<NetworkFact>::failed("no default route in /proc/net/route");
  f.router = Fact<RouterFact>::skipped("no gateway to ask");
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "offline");
  EXPECT_EQ(check(r, "network").status, Status::fail);
  EXPECT_EQ(check(r, "router").status, Status::skip);
}

TEST(Diagnose, NoPortGeneralCheckup) {
  auto f = healthy();
  f.port.reset();
  f.listeners = {};
  f.mapping = Fact<MappingFact>::skipped("no PORT given");
  auto r = diagnose(f);
  EXPECT_EQ(r.verdict, "ok");
  EXPECT_EQ(check(r, "listening").status, Status::skip);
  EXPECT_EQ(check(r, "isp_block").status, Status::skip);
  EXPECT_NE(r.recommendation.find("port forwarding can work here"), std::string::npos);
}

TEST(Diagnose, PublicAddressOnTheHost) {
  auto f = healthy();
  f.network = Fact<NetworkFact>::known({"eth0", "11.77.0.1", "11.77.0.2", 24, false});
  f.router = Fact<RouterFact>::known(router_silent());
  f.mapping = Fact<MappingFact>::skipped("the router maps nothing");
  auto r = diagnose(f);
  EXPECT_EQ(r.nat, Nat::public_ip);
  EXPECT_EQ(check(r, "router").status, Status::skip);
  EXPECT_EQ(check(r, "mapping").status, Status::skip);
  EXPECT_EQ(r.verdict, "ok");
  // Documentation addresses (RFC 5737) are not public.
  f.network = Fact<NetworkFact>::known({"eth0", "192.0.2.1", "192.0.2.2", 24, false});
  EXPECT_EQ(diagnose(f).verdict, "no_router_protocol");
}

TEST(Report, TextAndJson) {
  auto f = healthy();
  f.listeners = Fact<std::vector<Listener>>::known({{"127.0.0.1", Exposure::loopback, ""}});
  auto r = diagnose(f);
  auto text = render_report_text(r, f);
  EXPECT_NE(text.find("✗ Something listens on TCP port 25565"), std::string::npos);
  EXPECT_NE(text.find("fix: bind to 0.0.0.0"), std::string::npos);
  EXPECT_NE(text.find("✓ Default gateway"), std::string::npos);
  EXPECT_NE(text.find("– Reachable"), std::string::npos);
  EXPECT_NE(text.find("\n=> the service listens on loopback only"), std::string::npos);
  auto j = report_to_json(r, f);
  EXPECT_EQ(j["verdict"], "loopback_only");
  EXPECT_EQ(j["port"], 25565);
  EXPECT_EQ(j["nat"], "public_ip");
  EXPECT_EQ(j["external_ip"], "11.77.0.2");
  EXPECT_EQ(j["checks"][0]["status"], "fail");
}

}  // namespace
}  // namespace porthole::diag
