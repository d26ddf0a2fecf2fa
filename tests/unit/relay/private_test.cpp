// Private names: who may register and who may reach them (scopes), and who holds them (Store).
#include <gtest/gtest.h>

#include "../temp_dir.hpp"
#include "relay/scopes.hpp"
#include "relay/store.hpp"

namespace porthole::relay {
namespace {

TEST(PrivateScopes, ConnectDefaultsToOwnNamesOnly) {
  Scopes none;
  EXPECT_TRUE(connect_allowed(none, "pi", /*own=*/true));
  EXPECT_FALSE(connect_allowed(none, "pi", /*own=*/false));  // empty is not "any" for reaching
  auto s = parse_scopes("", "", "", "", "pi,db-*");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(connect_allowed(*s, "pi", false));
  EXPECT_TRUE(connect_allowed(*s, "db-1", false));
  EXPECT_FALSE(connect_allowed(*s, "pi2", false));
  EXPECT_TRUE(connect_allowed(*s, "mine", true));
  auto all = parse_scopes("", "", "", "", "*");
  EXPECT_TRUE(connect_allowed(*all, "anything", false));
  EXPECT_EQ(describe(*s), "connect=pi,db-*");
}

TEST(PrivateScopes, BadConnectGlobNamesTheFlag) {
  auto s = parse_scopes("", "", "", "", "pi;rm");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("--allow-connect"), std::string::npos) << s.error().message;
}

TEST(PrivateStore, NamesAreOwnedPerTokenAndReleasedOnRevoke) {
  test_util::TempDir dir;
  auto store = Store::open((dir.path / "data").string());
  ASSERT_TRUE(store) << store.error().message;
  auto& st = **store;
  auto scopes = parse_scopes("", "", "pi*", "", "other");
  ASSERT_TRUE(st.create_token("alice", *scopes));
  ASSERT_TRUE(st.create_token("bob", Scopes{}));
  EXPECT_EQ(st.find_token_by_name("alice")->scopes.allow_connect, "other");  // stored and read back
  ASSERT_TRUE(st.claim_private_name("pi", "alice", "t1"));
  EXPECT_TRUE(st.claim_private_name("pi", "alice", "t2"));  // the same token may move it
  auto taken = st.claim_private_name("pi", "bob", "t1");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().message, "private name pi is held by another token");
  EXPECT_EQ(taken.error().code, Errc::conflict);
  EXPECT_EQ(st.private_name_owner("pi"), "alice");
  EXPECT_FALSE(st.private_name_owner("nas"));
  EXPECT_FALSE(st.claim_private_name("PI", "alice", "t1"));  // not normalised
  ASSERT_TRUE(st.revoke_token("alice"));
  EXPECT_FALSE(st.private_name_owner("pi"));
  EXPECT_TRUE(st.claim_private_name("pi", "bob", "t1"));
  EXPECT_EQ(st.schema_version(), kStoreSchemaVersion);
}

}  // namespace
}  // namespace porthole::relay
