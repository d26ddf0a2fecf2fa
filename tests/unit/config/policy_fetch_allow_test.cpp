// relay.toml's policy_fetch_allow (docs/config.md, docs/policy.md): CIDRs only.
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace porthole::config {
namespace {

TEST(ConfigRelayPolicyFetch, AllowList) {
  auto c = parse_relay_config("version = 1\n[relay]\npolicy_fetch_allow = [\"127.0.0.0/8\", \"fd00::/8\"]\n", "r.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->policy_fetch_allow, (std::vector<std::string>{"127.0.0.0/8", "fd00::/8"}));
  auto d = parse_relay_config("version = 1\n[relay]\n", "r.toml");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->policy_fetch_allow.empty());  // public addresses only
  for (const char* bad : {"[\"internal.example\"]", "[\"10.0.0.0/40\"]", "\"10.0.0.0/8\""}) {
    auto e = parse_relay_config(std::string("version = 1\n[relay]\npolicy_fetch_allow = ") + bad + "\n", "r.toml");
    ASSERT_FALSE(e) << bad;
    EXPECT_NE(e.error().message.find("policy_fetch_allow"), std::string::npos) << e.error().message;
  }
}

}  // namespace
}  // namespace porthole::config
