// `porthole map` argument parsing and the router layer's small parsers and classifiers.
#include <gtest/gtest.h>

#include <vector>

#include "app/commands.hpp"
#include "router/router.hpp"

using namespace porthole;

namespace {

// Parses argv like main() does; returns true when CLI11 accepted it and a run was chosen.
bool parses(std::vector<std::string> args) {
  CLI::App app{"porthole"};
  app.require_subcommand(0, 1);
  app::Run run;
  app::add_map(app, run);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError&) {
    return false;
  }
  return static_cast<bool>(run);
}

}  // namespace

TEST(MapArgs, PortPair) {
  auto a = router::parse_port_pair("8080");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, 8080);
  EXPECT_EQ(a->second, 8080);
  auto b = router::parse_port_pair("25565:1234");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, 25565);
  EXPECT_EQ(b->second, 1234);
  for (const char* bad : {"", "0", "65536", "80:", ":80", "80:0", "a", "80:90:100", "-1"}) {
    EXPECT_FALSE(router::parse_port_pair(bad)) << bad;
  }
}

TEST(MapArgs, Method) {
  EXPECT_EQ(router::parse_method("auto").value(), router::Method::auto_);
  EXPECT_EQ(router::parse_method("pcp").value(), router::Method::pcp);
  EXPECT_EQ(router::parse_method("natpmp").value(), router::Method::natpmp);
  EXPECT_EQ(router::parse_method("upnp").value(), router::Method::upnp);
  EXPECT_FALSE(router::parse_method("igd"));
  EXPECT_EQ(router::to_string(router::Protocol::udp), "udp");
}

TEST(MapArgs, CommandLine) {
  EXPECT_TRUE(parses({"map", "add", "8080"}));
  EXPECT_TRUE(parses({"map", "add", "8080:80", "--udp", "--lease", "60", "--method", "natpmp",
                      "--description", "minecraft", "--keep", "--json", "--gateway", "10.0.0.1"}));
  EXPECT_TRUE(parses({"map", "list", "--json"}));
  EXPECT_TRUE(parses({"map", "remove", "8080", "--udp"}));
  EXPECT_TRUE(parses({"map", "external-ip", "--method", "upnp"}));
  EXPECT_FALSE(parses({"map"}));                                   // a subcommand is required
  EXPECT_FALSE(parses({"map", "add"}));                            // EXTPORT is required
  EXPECT_FALSE(parses({"map", "add", "80", "--method", "igd"}));   // unknown method
  EXPECT_FALSE(parses({"map", "add", "80", "--lease", "-5"}));     // not a number of seconds
  EXPECT_FALSE(parses({"map", "remove"}));
  EXPECT_FALSE(parses({"map", "add", "80", "--timeout", "5"}));    // below 100 ms
}

TEST(Addresses, Classification) {
  EXPECT_TRUE(router::is_private_ipv4("192.168.1.1"));
  EXPECT_TRUE(router::is_private_ipv4("172.31.0.1"));
  EXPECT_FALSE(router::is_private_ipv4("172.32.0.1"));
  EXPECT_TRUE(router::is_cgnat_ipv4("100.64.9.2"));
  EXPECT_TRUE(router::is_cgnat_ipv4("100.127.255.255"));
  EXPECT_FALSE(router::is_cgnat_ipv4("100.128.0.1"));
  EXPECT_TRUE(router::is_public_ipv4("11.77.0.2"));
  EXPECT_TRUE(router::is_public_ipv4("8.8.8.8"));
  for (const char* a : {"10.0.0.1", "100.64.0.1", "127.0.0.1", "169.254.1.1", "203.0.113.5", "224.0.0.1",
                        "0.0.0.0", "not an ip"}) {
    EXPECT_FALSE(router::is_public_ipv4(a)) << a;
  }
  EXPECT_TRUE(router::same_subnet("10.77.0.1", "10.77.0.2", 24));
  EXPECT_FALSE(router::same_subnet("10.77.1.1", "10.77.0.2", 24));
  EXPECT_FALSE(router::same_subnet("garbage", "10.77.0.2", 24));
}
