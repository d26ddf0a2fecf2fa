// `private = "NAME"` in a [[tunnel]] block (a private endpoint, reached with porthole connect).
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace porthole::config {
namespace {

TEST(ConfigPrivate, PrivateTunnel) {
  auto c = parse_agent_config(R"(version = 1
[[tunnel]]
name = "ssh"
kind = "tcp"
local = 22
private = "Pi"
)",
                              "porthole.toml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->tunnels.size(), 1u);
  EXPECT_EQ(c->tunnels[0].private_name, "pi");  // normalised
  EXPECT_EQ(c->tunnels[0].proto, "tcp");
}

TEST(ConfigPrivate, ErrorsNameTheLine) {
  auto bad = parse_agent_config("version = 1\n[[tunnel]]\nname = \"ssh\"\nlocal = 22\nprivate = \"p i\"\n", "f.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("f.toml:5"), std::string::npos) << bad.error().message;
  EXPECT_NE(bad.error().message.find("private"), std::string::npos) << bad.error().message;
  auto both = parse_agent_config(
      "version = 1\n[[tunnel]]\nname = \"ssh\"\nlocal = 22\nprivate = \"pi\"\nremote_port = 2222\n", "f.toml");
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("not both"), std::string::npos) << both.error().message;
}

}  // namespace
}  // namespace porthole::config
