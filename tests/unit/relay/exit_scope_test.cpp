// --allow-exit: which exits a token may use (the migration to tokens.allow_exit: store_test.cpp).
#include <gtest/gtest.h>

#include "relay/scopes.hpp"

namespace porthole::relay {
namespace {

Scopes scopes(std::string_view connect, std::string_view exit) {
  auto s = parse_scopes("", "", "", "", connect, exit);
  EXPECT_TRUE(s) << s.error().message;
  return s ? *s : Scopes{};
}

TEST(ExitScopes, OwnExitsAlwaysOthersByAllowExitOrTheOlderAllowConnect) {
  EXPECT_TRUE(exit_allowed(scopes("", ""), "office", true));
  EXPECT_FALSE(exit_allowed(scopes("", ""), "office", false));
  EXPECT_TRUE(exit_allowed(scopes("", "off*"), "office", false));
  EXPECT_FALSE(exit_allowed(scopes("", "off*"), "home", false));
  EXPECT_TRUE(exit_allowed(scopes("office", ""), "office", false));  // tokens made before --allow-exit
  EXPECT_TRUE(exit_allowed(scopes("", "a,b,office"), "office", false));
}

TEST(ExitScopes, TheRelaysExitOnlyThroughAllowExit) {
  EXPECT_FALSE(exit_allowed(scopes("", ""), "relay", false));
  EXPECT_FALSE(exit_allowed(scopes("", ""), "relay", true));
  EXPECT_FALSE(exit_allowed(scopes("*", ""), "relay", false));  // --allow-connect never grants it
  EXPECT_FALSE(exit_allowed(scopes("", "office"), "relay", false));
  EXPECT_TRUE(exit_allowed(scopes("", "relay"), "relay", false));
  EXPECT_TRUE(exit_allowed(scopes("", "*"), "relay", false));
  EXPECT_TRUE(exit_allowed(scopes("", "rel?y"), "relay", false));
}

TEST(ExitScopes, BadGlobNamesTheFlagAndDescribeShowsIt) {
  auto bad = parse_scopes("", "", "", "", "", "a b");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("--allow-exit"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(parse_scopes("", "", "", "", "", "a,,b"));
  EXPECT_EQ(describe(scopes("", "relay,office")), "exit=relay,office");
}

}  // namespace
}  // namespace porthole::relay
