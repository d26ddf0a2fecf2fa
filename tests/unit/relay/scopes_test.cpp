#include "relay/scopes.hpp"

#include <gtest/gtest.h>

namespace porthole::relay {
namespace {

TEST(Glob, Matches) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything"));
  EXPECT_TRUE(glob_match("app-*", "app-1"));
  EXPECT_TRUE(glob_match("app-*", "app-"));
  EXPECT_FALSE(glob_match("app-*", "ap"));
  EXPECT_FALSE(glob_match("app-*", "myapp-1"));
  EXPECT_TRUE(glob_match("*-prod", "web-prod"));
  EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("APP", "app"));
  EXPECT_FALSE(glob_match("", "x"));
  EXPECT_TRUE(glob_match("", ""));
  // Pathological patterns stay fast (no exponential back-tracking).
  EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

TEST(Glob, Lists) {
  EXPECT_TRUE(glob_list_match("", "x"));
  EXPECT_TRUE(glob_list_match("a-*,b-*", "b-1"));
  EXPECT_FALSE(glob_list_match("a-*,b-*", "c-1"));
}

TEST(Scopes, EmptyAllowsAnything) {
  Scopes s;
  EXPECT_TRUE(subdomain_allowed(s, "x"));
  EXPECT_TRUE(port_allowed(s, 1));
  EXPECT_TRUE(private_allowed(s, "db"));
  EXPECT_TRUE(hostname_allowed(s, "shop.example.test"));
  EXPECT_TRUE(hostname_allowed(s, "*.example.test"));
  EXPECT_EQ(describe(s), "any");
  EXPECT_EQ(allowed_port_range(s, PortRange{20000, 29999}), (PortRange{20000, 29999}));
}

TEST(Scopes, Restrict) {
  auto s = parse_scopes("app-*", "20000-20010", "db-*", "");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(subdomain_allowed(*s, "app-x"));
  EXPECT_FALSE(subdomain_allowed(*s, "admin"));
  EXPECT_TRUE(port_allowed(*s, 20000));
  EXPECT_TRUE(port_allowed(*s, 20010));
  EXPECT_FALSE(port_allowed(*s, 20011));
  EXPECT_TRUE(private_allowed(*s, "db-1"));
  EXPECT_FALSE(private_allowed(*s, "ssh"));
  EXPECT_EQ(describe(*s), "subdomain=app-* port=20000-20010 private=db-*");
  EXPECT_EQ(allowed_port_range(*s, PortRange{20005, 29999}), (PortRange{20005, 20010}));
  EXPECT_EQ(allowed_port_range(*s, PortRange{30000, 30010}), std::nullopt);
  EXPECT_EQ(format_port_scope(PortRange{22, 22}), "22");
}

TEST(Scopes, ParseErrorsNameTheFlag) {
  auto bad_port = parse_scopes("", "10-5", "", "");
  ASSERT_FALSE(bad_port);
  EXPECT_NE(bad_port.error().message.find("--allow-port"), std::string::npos);
  auto bad_glob = parse_scopes("a/b", "", "", "");
  ASSERT_FALSE(bad_glob);
  EXPECT_NE(bad_glob.error().message.find("--allow-subdomain"), std::string::npos);
  EXPECT_FALSE(parse_scopes("", "", "a,,b", ""));
  EXPECT_FALSE(parse_scopes("", "", "a b", ""));
}

TEST(Scopes, HostnameGlobs) {
  auto s = parse_scopes("", "", "", "*.example.test,Shop.Other.test");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(describe(*s), "hostname=*.example.test,Shop.Other.test");
  EXPECT_TRUE(hostname_allowed(*s, "a.example.test"));
  EXPECT_TRUE(hostname_allowed(*s, "a.b.example.test"));
  EXPECT_FALSE(hostname_allowed(*s, "example.test"));
  EXPECT_FALSE(hostname_allowed(*s, "a.example.test.evil"));
  EXPECT_TRUE(hostname_allowed(*s, "shop.other.test"));  // case-insensitive
  EXPECT_FALSE(hostname_allowed(*s, "a.shop.other.test"));
  EXPECT_TRUE(subdomain_allowed(*s, "anything"));  // the subdomain scope is separate
}

TEST(Scopes, WildcardHostNeedsAGlobCoveringAllOfIt) {
  auto allows = [](std::string_view globs, std::string_view host) {
    auto s = parse_scopes("", "", "", globs);
    EXPECT_TRUE(s) << globs;
    return s && hostname_allowed(*s, host);
  };
  EXPECT_TRUE(allows("*.example.test", "*.example.test"));
  EXPECT_TRUE(allows("*.example.test", "*.a.example.test"));
  EXPECT_TRUE(allows("*.test", "*.example.test"));
  EXPECT_TRUE(allows("*", "*.example.test"));
  EXPECT_TRUE(allows("*example.test", "*.example.test"));
  EXPECT_FALSE(allows("*.a.example.test", "*.example.test"));  // wider than the scope
  EXPECT_FALSE(allows("?.example.test", "*.example.test"));    // '?' matches the '*' but not all names
  EXPECT_FALSE(allows("a*", "*.example.test"));
  EXPECT_FALSE(allows("shop.example.test", "*.example.test"));
  EXPECT_FALSE(allows("*-shop.example.test", "*.example.test"));
  EXPECT_TRUE(allows("shop.example.test,*.other.test", "*.other.test"));
}

TEST(Scopes, HostnameGlobErrors) {
  auto underscore = parse_scopes("", "", "", "a_b.example.test");
  ASSERT_FALSE(underscore);
  EXPECT_EQ(underscore.error().message,
            "--allow-hostname 'a_b.example.test': unexpected character '_' (letters, digits, - . * ?)");
  EXPECT_TRUE(parse_scopes("a_b", "", "", ""));  // subdomain globs keep '_'
  EXPECT_FALSE(parse_scopes("", "", "", "a,,b"));
  EXPECT_FALSE(parse_scopes("", "", "", "a/b"));
  EXPECT_FALSE(parse_scopes("", "", "", std::string(1025, 'a')));
}

}  // namespace
}  // namespace porthole::relay
