#include "core/hostname.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <set>

namespace porthole {
namespace {

std::string norm(std::string_view name, bool wildcard = false) {
  auto r = normalize_hostname(name, wildcard);
  return r ? *r : "ERROR: " + r.error().message;
}

// The error message, or "" when the name is accepted.
std::string error_of(std::string_view name, bool wildcard = false) {
  auto r = normalize_hostname(name, wildcard);
  return r ? "" : r.error().message;
}

TEST(Hostname, Normalises) {
  EXPECT_EQ(norm("shop.example.test"), "shop.example.test");
  EXPECT_EQ(norm("Shop.EXAMPLE.Test"), "shop.example.test");
  EXPECT_EQ(norm("shop.example.test."), "shop.example.test");
  EXPECT_EQ(norm("localhost"), "localhost");
  EXPECT_EQ(norm("a-b.c0.example"), "a-b.c0.example");
  EXPECT_EQ(norm("42.example.test"), "42.example.test");
  EXPECT_EQ(norm("xn--bcher-kva.example"), "xn--bcher-kva.example");
}

TEST(Hostname, InternationalNames) {
  EXPECT_EQ(norm("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(norm("BÜCHER.Example."), "xn--bcher-kva.example");
  EXPECT_EQ(norm("straße.example"), "xn--strae-oqa.example");  // non-transitional keeps ß
  EXPECT_EQ(norm("ｂüｃ.example"), "xn--bc-xka.example");      // full-width letters map to ASCII
  EXPECT_EQ(norm("a。b.example"), "a.b.example");              // ideographic full stop
  EXPECT_EQ(norm("🍕.example"), "xn--vi8h.example");            // transitional fallback
  EXPECT_EQ(norm("*.bücher.example", true), "*.xn--bcher-kva.example");
  EXPECT_NE(error_of("b\xff"
                     "cher.example")
                .find("is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of("ab--ü.example").find("not a valid international name"), std::string::npos);
  EXPECT_NE(error_of("\xc2\xad.example").find("is empty once mapped"), std::string::npos);  // soft hyphen
  EXPECT_NE(error_of("ü＿x.example").find("has the character '_'"), std::string::npos);
  EXPECT_NE(error_of("１２３").find("all digits"), std::string::npos);
}

TEST(Hostname, Wildcards) {
  EXPECT_EQ(norm("*.Example.Test", true), "*.example.test");
  EXPECT_EQ(norm("*.example.test.", true), "*.example.test");
  EXPECT_EQ(error_of("*.example.test"), "wildcards ('*') are not allowed here");
  EXPECT_EQ(error_of("*", true), "a wildcard needs a suffix, like '*.example.test'");
  EXPECT_EQ(error_of("*.", true), "a wildcard needs a suffix, like '*.example.test'");
  for (const char* bad : {"**.example.test", "a*.example.test", "*a.example.test", "a.*.example.test",
                          "*.*.example.test", "example.*"}) {
    EXPECT_EQ(error_of(bad, true), "'*' is only allowed as the whole first label, like '*.example.test'")
        << bad;
  }
}

TEST(Hostname, Errors) {
  EXPECT_EQ(error_of(""), "empty host name");
  EXPECT_EQ(error_of("."), "empty host name");
  EXPECT_EQ(error_of("a..b"), "empty label in 'a..b' (a leading dot or two dots in a row)");
  EXPECT_EQ(error_of(".a"), "empty label in '.a' (a leading dot or two dots in a row)");
  EXPECT_EQ(error_of("a.."), "empty label in 'a.' (a leading dot or two dots in a row)");
  EXPECT_EQ(error_of("x--.example"), "label 'x--' ends with '-'");
  EXPECT_EQ(error_of("-x.example"), "label '-x' starts with '-'");
  EXPECT_EQ(error_of("a_b.example"), "label 'a_b' has the character '_' (use letters, digits and '-')");
  EXPECT_EQ(error_of("a b"), "label 'a b' has the character ' ' (use letters, digits and '-')");
  EXPECT_EQ(error_of(std::string_view("a\0b", 3)),
            "label 'a\\x00b' has the character '\\x00' (use letters, digits and '-')");
  EXPECT_EQ(error_of("a\nb"), "label 'a\\x0ab' has the character '\\x0a' (use letters, digits and '-')");
  EXPECT_EQ(error_of(std::string(64, 'a') + ".example"),
            "label '" + std::string(64, 'a') + "' is longer than 63 characters");
  EXPECT_EQ(norm(std::string(63, 'a') + ".example"), std::string(63, 'a') + ".example");
  EXPECT_EQ(error_of("127.0.0.1"), "the last label '1' is all digits (an IP address is not a host name)");
  EXPECT_EQ(error_of("[::1]"), "label '[::1]' has the character '[' (use letters, digits and '-')");
  EXPECT_EQ(error_of("host:80"), "label 'host:80' has the character ':' (use letters, digits and '-')");
}

TEST(Hostname, TotalLength) {
  // 4 labels of 63 + 3 dots = 255; 3 of 63 + 61 + 3 dots = 253.
  const std::string l63(63, 'a');
  const std::string ok = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  ASSERT_EQ(ok.size(), 253u);
  EXPECT_EQ(norm(ok), ok);
  EXPECT_EQ(norm(ok + "."), ok);
  EXPECT_EQ(error_of(ok + "b"), "host name is longer than 253 characters (254)");
  EXPECT_EQ(error_of("*." + ok.substr(2), true), "");
  EXPECT_EQ(error_of("*." + ok, true), "host name is longer than 253 characters (255)");
  EXPECT_EQ(error_of(std::string(5000, 'a')), "host name is longer than 253 characters");
}

TEST(Hostname, ErrorsAreValidUtf8) {
  auto msg = error_of("\xff\xfe_");
  EXPECT_EQ(msg, "label '\\xff\\xfe_' has the character '_' (use letters, digits and '-')");
  msg = error_of("\xc2\x85x.example");  // U+0085, a C1 control
  EXPECT_NE(msg.find("\\xc2"), std::string::npos) << msg;
  msg = error_of(std::string(200, 'a') + "_");
  EXPECT_NE(msg.find("a..."), std::string::npos) << msg;  // long labels are cut in messages
  EXPECT_LT(msg.size(), 140u);
}

TEST(Hostname, Matches) {
  EXPECT_TRUE(hostname_matches("shop.example.test", "shop.example.test"));
  EXPECT_FALSE(hostname_matches("shop.example.test", "a.shop.example.test"));
  EXPECT_TRUE(hostname_matches("*.example.test", "a.example.test"));
  EXPECT_TRUE(hostname_matches("*.example.test", "a.b.example.test"));
  EXPECT_FALSE(hostname_matches("*.example.test", "example.test"));
  EXPECT_FALSE(hostname_matches("*.example.test", "aexample.test"));
  EXPECT_FALSE(hostname_matches("*.example.test", ".example.test"));
  EXPECT_FALSE(hostname_matches("*.example.test", "a.example.testx"));
  EXPECT_TRUE(hostname_matches("*.Example.test", "A.example.TEST"));
}

TEST(Hostname, Specificity) {
  EXPECT_EQ(wildcard_specificity("shop.example.test"), INT_MAX);
  EXPECT_EQ(wildcard_specificity("*.example.test"), 2);
  EXPECT_EQ(wildcard_specificity("*.test"), 1);
  EXPECT_GT(wildcard_specificity("*.a.example.test"), wildcard_specificity("*.example.test"));
  EXPECT_GT(wildcard_specificity("a.example.test"), wildcard_specificity("*.a.example.test"));
}

TEST(Hostname, RandomReadableNames) {
  EXPECT_EQ(random_readable_name(0), "able-alpaca-10");
  EXPECT_EQ(random_readable_name(12345), random_readable_name(12345));
  std::set<std::string> seen;
  for (std::uint64_t i = 0; i < 5000; ++i) {
    auto name = random_readable_name(i * 0x9e3779b97f4a7c15ULL);
    auto n = normalize_hostname(name, false);
    ASSERT_TRUE(n) << name << ": " << n.error().message;
    EXPECT_EQ(*n, name);
    auto last_dash = name.rfind('-');
    ASSERT_NE(last_dash, std::string::npos);
    EXPECT_EQ(name.size() - last_dash - 1, 2u) << name;  // two digits
    seen.insert(name);
  }
  EXPECT_GT(seen.size(), 4900u);
}

TEST(Hostname, SubdomainHost) {
  auto h = subdomain_host("App", "localhost");
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(*h, "app.localhost");
  EXPECT_EQ(*subdomain_host("a.b", "Example.Test."), "a.b.example.test");
  EXPECT_EQ(*subdomain_host("42", "example.test"), "42.example.test");
  EXPECT_EQ(*subdomain_host("bücher", "example.test"), "xn--bcher-kva.example.test");
  EXPECT_EQ(subdomain_host("a_b", "example.test").error().message,
            "subdomain: label 'a_b' has the character '_' (use letters, digits and '-')");
  EXPECT_EQ(subdomain_host("*", "example.test").error().message,
            "subdomain: wildcards ('*') are not allowed here");
  EXPECT_EQ(subdomain_host("", "example.test").error().message, "subdomain: empty host name");
  EXPECT_EQ(subdomain_host("app.", "example.test").error().message, "subdomain 'app.' ends with '.'");
  EXPECT_EQ(
      subdomain_host("app", "bad_domain").error().message,
      "relay domain 'bad_domain': label 'bad_domain' has the character '_' (use letters, digits and '-')");
  auto long_sub = subdomain_host(
      std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c'), std::string(63, 'd'));
  ASSERT_FALSE(long_sub);
  EXPECT_NE(long_sub.error().message.find("longer than 253 characters (255)"), std::string::npos);
}

}  // namespace
}  // namespace porthole
