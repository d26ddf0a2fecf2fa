#include "relay/store.hpp"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <filesystem>

#include "../temp_dir.hpp"

namespace porthole::relay {
namespace {

namespace fs = std::filesystem;
using porthole::test_util::file_mode;
using porthole::test_util::slurp;
using porthole::test_util::TempDir;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }
  void reopen() {
    store.reset();
    auto s = Store::open(data().string());
    ASSERT_TRUE(s) << s.error().message;
    store = std::move(*s);
  }
  fs::path data() const { return dir.path / "data"; }
  TempDir dir;
  std::unique_ptr<Store> store;
};

TEST_F(StoreTest, CreatesPrivateFilesWithSchemaVersion) {
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  EXPECT_EQ(file_mode(data()), 0700u);
  EXPECT_EQ(file_mode(data() / "relay.db"), 0600u);
}

TEST_F(StoreTest, CreateFindListRevoke) {
  auto scopes = parse_scopes("app-*", "20000-20010", "");
  ASSERT_TRUE(scopes);
  auto token = store->create_token("laptop", *scopes);
  ASSERT_TRUE(token) << token.error().message;
  EXPECT_TRUE(token->starts_with("ph_"));

  auto rec = store->find_token(proto::token_id(*token));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->name, "laptop");
  EXPECT_EQ(rec->key, proto::token_key(*token));
  EXPECT_EQ(rec->scopes, *scopes);
  EXPECT_GT(rec->created_at, 0);
  EXPECT_FALSE(rec->revoked_at);
  EXPECT_FALSE(store->find_token("0000000000000000"));

  ASSERT_TRUE(store->create_token("server", {}));
  auto all = store->list_tokens();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "laptop");
  EXPECT_EQ(all[1].name, "server");

  auto dup = store->create_token("laptop", {});
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("exists"), std::string::npos);

  ASSERT_TRUE(store->revoke_token("laptop"));
  EXPECT_FALSE(store->find_token(proto::token_id(*token)));
  auto again = store->revoke_token("laptop");
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already revoked"), std::string::npos);
  EXPECT_FALSE(store->revoke_token("nobody"));
  auto listed = store->find_token_by_name("laptop");
  ASSERT_TRUE(listed);
  EXPECT_TRUE(listed->revoked_at);

  // A revoked name can be reused; the old secret stays dead.
  auto fresh = store->create_token("laptop", {});
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(store->find_token(proto::token_id(*fresh)));
  EXPECT_FALSE(store->find_token(proto::token_id(*token)));
}

TEST_F(StoreTest, NeverStoresTheSecret) {
  auto token = store->create_token("laptop", {});
  ASSERT_TRUE(token);
  store->audit("token.create", "name=laptop");
  store.reset();  // checkpoints the WAL into relay.db
  for (const auto& f : fs::directory_iterator(data())) {
    EXPECT_EQ(slurp(f.path()).find(*token), std::string::npos) << f.path();
    EXPECT_EQ(slurp(f.path()).find(token->substr(3)), std::string::npos) << f.path();
  }
}

TEST_F(StoreTest, StaticTokensLiveInMemory) {
  const std::string secret = "a-long-static-token-from-flags";
  ASSERT_TRUE(store->add_static_token(secret));
  EXPECT_FALSE(store->add_static_token("short"));
  EXPECT_TRUE(store->add_static_token("secret12"));
  auto rec = store->find_token(proto::token_id(secret));
  ASSERT_TRUE(rec);
  EXPECT_TRUE(rec->is_static);
  EXPECT_EQ(rec->name, "cli-" + proto::token_id(secret));
  EXPECT_EQ(rec->key, proto::token_key(secret));
  EXPECT_EQ(store->list_tokens().size(), 2u);
  EXPECT_FALSE(store->revoke_token(rec->name));
  EXPECT_FALSE(store->create_token("cli-x", {}));
  reopen();
  EXPECT_FALSE(store->find_token(proto::token_id(secret)));
}

TEST_F(StoreTest, ReservationsSurviveReopen) {
  EXPECT_FALSE(store->reserved_port("laptop", "ssh"));
  ASSERT_TRUE(store->reserve_port("laptop", "ssh", 20001));
  ASSERT_TRUE(store->reserve_port("laptop", "web", 20002));
  reopen();
  EXPECT_EQ(store->reserved_port("laptop", "ssh"), 20001);
  EXPECT_FALSE(store->port_reserved_by_other(20001, "laptop", "ssh"));
  EXPECT_TRUE(store->port_reserved_by_other(20001, "laptop", "web"));
  EXPECT_TRUE(store->port_reserved_by_other(20001, "server", "ssh"));
  EXPECT_FALSE(store->port_reserved_by_other(20003, "server", "ssh"));
  EXPECT_FALSE(store->reserve_port("server", "ssh", 20001));
  ASSERT_TRUE(store->reserve_port("laptop", "ssh", 20005));  // moves
  EXPECT_EQ(store->reserved_port("laptop", "ssh"), 20005);
  EXPECT_FALSE(store->port_reserved_by_other(20001, "server", "ssh"));
  ASSERT_TRUE(store->release_port("laptop", "ssh"));
  EXPECT_FALSE(store->reserved_port("laptop", "ssh"));
}

TEST_F(StoreTest, RevokeReleasesReservations) {
  ASSERT_TRUE(store->create_token("laptop", {}));
  ASSERT_TRUE(store->reserve_port("laptop", "ssh", 20001));
  ASSERT_TRUE(store->revoke_token("laptop"));
  EXPECT_FALSE(store->reserved_port("laptop", "ssh"));
}

TEST_F(StoreTest, AuditNewestFirst) {
  for (int i = 0; i < 5; ++i) store->audit("event", std::to_string(i));
  auto rows = store->list_audit(3);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].detail, "4");
  EXPECT_EQ(rows[2].detail, "2");
  EXPECT_GT(rows[0].ts_ms, 0);
  reopen();
  EXPECT_EQ(store->list_audit(100).size(), 5u);
}

TEST_F(StoreTest, TwoProcessesShareTheDatabase) {
  auto other = Store::open(data().string());
  ASSERT_TRUE(other);
  auto token = (*other)->create_token("made-elsewhere", {});
  ASSERT_TRUE(token);
  EXPECT_TRUE(store->find_token(proto::token_id(*token)));
  ASSERT_TRUE((*other)->revoke_token("made-elsewhere"));
  EXPECT_FALSE(store->find_token(proto::token_id(*token)));
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  store.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data() / "relay.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Store::open(data().string());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("99"), std::string::npos);
}

TEST(Store, OpenWithoutCreateLeavesNoFiles) {
  TempDir d;
  auto s = Store::open((d.path / "absent").string(), /*create=*/false);
  ASSERT_TRUE(s);
  EXPECT_TRUE((*s)->list_tokens().empty());
  EXPECT_FALSE((*s)->revoke_token("x"));
  EXPECT_FALSE(fs::exists(d.path / "absent"));
}

TEST(Store, TokenNames) {
  EXPECT_TRUE(validate_token_name("laptop-1.home_x"));
  EXPECT_FALSE(validate_token_name(""));
  EXPECT_FALSE(validate_token_name(std::string(65, 'a')));
  EXPECT_FALSE(validate_token_name("a b"));
  EXPECT_FALSE(validate_token_name("cli-abc"));
}

}  // namespace
}  // namespace porthole::relay
