// relay.toml's ACME keys (docs/acme.md, docs/config.md).
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace porthole::config {
namespace {

TEST(ConfigRelayAcme, Keys) {
  auto c = parse_relay_config(R"(version = 1
[relay]
acme_directory = "https://127.0.0.1:14000/dir"
acme_email = "ops@example.com"
acme_ca = "/etc/pebble.pem"
acme_challenge = "tls-alpn-01"
)",
                              "r.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->acme_directory, "https://127.0.0.1:14000/dir");
  EXPECT_EQ(c->acme_email, "ops@example.com");
  EXPECT_EQ(c->acme_ca, "/etc/pebble.pem");
  EXPECT_EQ(c->acme_challenge, "tls-alpn-01");
  auto d = parse_relay_config("version = 1\n[relay]\n", "r.toml");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->acme_directory, "");
  EXPECT_EQ(d->acme_challenge, "http-01");
  EXPECT_TRUE(parse_relay_config("version = 1\n[relay]\nacme_directory = \"off\"\n", "r.toml"));
}

TEST(ConfigRelayAcme, BadValuesNameTheKey) {
  auto bad = [](const char* line) {
    auto c = parse_relay_config(std::string("version = 1\n[relay]\n") + line + "\n", "r.toml");
    EXPECT_FALSE(c) << line;
    return c ? std::string() : c.error().message;
  };
  EXPECT_NE(bad("acme_directory = \"http://ca/dir\"").find("relay.acme_directory"), std::string::npos);
  EXPECT_NE(bad("acme_email = \"not an address\"").find("relay.acme_email"), std::string::npos);
  EXPECT_NE(bad("acme_challenge = \"dns-01\"").find("relay.acme_challenge"), std::string::npos);
}

}  // namespace
}  // namespace porthole::config
