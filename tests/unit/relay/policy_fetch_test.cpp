// The relay's policy context (relay/policy_fetch.*): the oidc cookie key is made once in the
// data dir (0600) and reused, so sessions survive a restart; a damaged key file stops the relay;
// policy_fetch_allow entries are checked.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "../temp_dir.hpp"
#include "policy/oidc_session.hpp"
#include "relay/policy_fetch.hpp"

namespace porthole::relay {
namespace {

TEST(PolicyContext, CookieKeyPersistsAcrossRestarts) {
  test_util::TempDir dir;
  config::RelayConfig cfg;
  cfg.data_dir = (dir.path / "data").string();
  auto first = make_policy_context(cfg);
  ASSERT_TRUE(first) << first.error().message;
  const auto key = dir.path / "data" / "oidc-cookie.key";
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  const auto cookie = (*first)->sealer->seal({"sub", "a@example.com", 2000}, "app.example.com");
  auto second = make_policy_context(cfg);  // a restart
  ASSERT_TRUE(second);
  EXPECT_TRUE((*second)->sealer->open(cookie, "app.example.com", 1000));
  // Another data dir: another key, the cookie is worthless there.
  config::RelayConfig other = cfg;
  other.data_dir = (dir.path / "other").string();
  auto third = make_policy_context(other);
  ASSERT_TRUE(third);
  EXPECT_FALSE((*third)->sealer->open(cookie, "app.example.com", 1000));
  // A damaged key file is refused rather than replaced.
  std::ofstream(key, std::ios::trunc) << "short";
  auto broken = make_policy_context(cfg);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().message.find("32 bytes"), std::string::npos);
  cfg.policy_fetch_allow = {"not-a-cidr"};
  std::filesystem::remove(key);
  EXPECT_FALSE(make_policy_context(cfg));
}

}  // namespace
}  // namespace porthole::relay
