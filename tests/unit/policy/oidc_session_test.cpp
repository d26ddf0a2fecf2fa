// The oidc building blocks (policy/oidc_session.*): sealed session cookies bound to their host
// and expiry, PKCE S256 (RFC 7636 Appendix B), random tokens.
#include <gtest/gtest.h>

#include <set>

#include "policy/oidc_session.hpp"

namespace porthole::policy {
namespace {

std::array<std::uint8_t, 32> key(std::uint8_t fill) {
  std::array<std::uint8_t, 32> k{};
  k.fill(fill);
  return k;
}

TEST(OidcSession, SealedCookieOpensOnlyForItsHostKeyAndTime) {
  const CookieSealer sealer(key(7));
  const OidcSession s{"alice", "alice@example.com", 2000};
  const auto c = sealer.seal(s, "app.example.com");
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c.find("alice"), std::string::npos);  // encrypted, not only signed
  auto o = sealer.open(c, "app.example.com", 1000);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->subject, "alice");
  EXPECT_EQ(o->email, "alice@example.com");
  EXPECT_EQ(o->expires, 2000);
  EXPECT_FALSE(sealer.open(c, "evil.example.com", 1000));  // bound to the host
  EXPECT_FALSE(sealer.open(c, "app.example.com", 2000));   // expired
  EXPECT_FALSE(CookieSealer(key(8)).open(c, "app.example.com", 1000));  // another key
  EXPECT_NE(sealer.seal(s, "app.example.com"), c);  // a fresh nonce each time
  // Any changed character, truncation or padding: refused.
  for (std::size_t i = 0; i < c.size(); i += 5) {
    auto t = c;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(sealer.open(t, "app.example.com", 1000)) << i;
  }
  EXPECT_FALSE(sealer.open(c.substr(0, c.size() - 1), "app.example.com", 1000));
  EXPECT_FALSE(sealer.open(c + "=", "app.example.com", 1000));
  EXPECT_FALSE(sealer.open("", "app.example.com", 1000));
  EXPECT_FALSE(sealer.open(std::string(kMaxSessionCookie + 1, 'A'), "app.example.com", 1000));
  EXPECT_TRUE(sealer.seal({std::string(4000, 'x'), "", 1}, "h").empty());  // would not fit a cookie
}

TEST(OidcSession, PkceAndRandomTokens) {
  // RFC 7636 Appendix B.
  EXPECT_EQ(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto t = random_token();
    EXPECT_EQ(t.size(), 43u);  // 32 bytes: a valid PKCE verifier length (43..128)
    EXPECT_EQ(t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), std::string::npos);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace porthole::policy
