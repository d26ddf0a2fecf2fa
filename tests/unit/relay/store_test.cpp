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
  auto scopes = parse_scopes("app-*", "20000-20010", "", "*.example.test");
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

TEST_F(StoreTest, TokenScopesSurviveReopen) {
  auto scopes = parse_scopes("app-*", "20000-20010", "db-*", "*.example.test,shop.other.test");
  ASSERT_TRUE(scopes);
  auto token = store->create_token("laptop", *scopes);
  ASSERT_TRUE(token);
  reopen();
  auto rec = store->find_token(proto::token_id(*token));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->scopes, *scopes);
  EXPECT_EQ(rec->scopes.allow_hostname, "*.example.test,shop.other.test");
}

TEST_F(StoreTest, HostnamesBelongToTheirToken) {
  EXPECT_FALSE(store->hostname_owner("shop.example.test"));
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "laptop", "web", false));
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "laptop", "web", false));  // again: fine
  EXPECT_EQ(store->hostname_owner("shop.example.test"), "laptop");

  auto other = store->claim_hostname("shop.example.test", "server", "web", false);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().message, "host name shop.example.test is held by another token");
  EXPECT_EQ(other.error().message.find("laptop"), std::string::npos);  // never names the owner
  EXPECT_EQ(store->hostname_owner("shop.example.test"), "laptop");

  // The same token may move the name to another of its tunnels.
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "laptop", "shop", false));
  auto claim = store->find_hostname("shop.example.test");
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->tunnel_name, "shop");
  EXPECT_FALSE(claim->random);
  EXPECT_GT(claim->created_at, 0);

  auto wrong = store->release_hostname("shop.example.test", "server");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(store->hostname_owner("shop.example.test"), "laptop");
  ASSERT_TRUE(store->release_hostname("shop.example.test", "laptop"));
  EXPECT_FALSE(store->hostname_owner("shop.example.test"));
  EXPECT_FALSE(store->release_hostname("shop.example.test", "laptop"));
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "server", "web", false));  // free again
}

TEST_F(StoreTest, ClaimsOnlyNormalisedNames) {
  auto upper = store->claim_hostname("Shop.example.test", "laptop", "web", false);
  ASSERT_FALSE(upper);
  EXPECT_EQ(upper.error().message, "host name 'Shop.example.test' is not normalised (use shop.example.test)");
  auto bad = store->claim_hostname("a_b.test", "laptop", "web", false);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'_'"), std::string::npos);
  EXPECT_FALSE(store->claim_hostname("", "laptop", "web", false));
  EXPECT_TRUE(store->claim_hostname("*.example.test", "laptop", "web", false));
  EXPECT_TRUE(store->claim_hostname("xn--bcher-kva.example", "laptop", "web", false));
}

TEST_F(StoreTest, HostnamesSurviveReopen) {
  ASSERT_TRUE(store->claim_hostname("calm-otter-42.localhost", "laptop", "web", true));
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "laptop", "web", false));
  ASSERT_TRUE(store->claim_hostname("*.example.test", "server", "wild", false));
  reopen();
  EXPECT_EQ(store->random_hostname("laptop", "web"), "calm-otter-42.localhost");
  EXPECT_FALSE(store->random_hostname("laptop", "api"));
  EXPECT_FALSE(store->random_hostname("server", "web"));
  EXPECT_FALSE(store->random_hostname("server", "wild"));  // claimed, not given
  EXPECT_EQ(store->hostname_owner("calm-otter-42.localhost"), "laptop");
  EXPECT_EQ(store->hostname_owner("*.example.test"), "server");
  EXPECT_FALSE(store->claim_hostname("calm-otter-42.localhost", "server", "web", true));
}

TEST_F(StoreTest, OneRandomNamePerTunnel) {
  ASSERT_TRUE(store->claim_hostname("calm-otter-42.localhost", "laptop", "web", true));
  ASSERT_TRUE(store->claim_hostname("brave-lynx-17.localhost", "laptop", "api", true));
  ASSERT_TRUE(store->claim_hostname("shop.localhost", "laptop", "web", false));
  ASSERT_TRUE(store->claim_hostname("happy-owl-77.localhost", "laptop", "web", true));
  EXPECT_EQ(store->random_hostname("laptop", "web"), "happy-owl-77.localhost");
  EXPECT_FALSE(store->hostname_owner("calm-otter-42.localhost"));  // released
  EXPECT_EQ(store->hostname_owner("shop.localhost"), "laptop");    // not random: kept
  EXPECT_EQ(store->random_hostname("laptop", "api"), "brave-lynx-17.localhost");
  // A random name claimed again as asked-for is no longer the pair's random name.
  ASSERT_TRUE(store->claim_hostname("happy-owl-77.localhost", "laptop", "web", false));
  EXPECT_FALSE(store->random_hostname("laptop", "web"));
}

TEST_F(StoreTest, FindHostnamePrefersTheMostSpecific) {
  ASSERT_TRUE(store->claim_hostname("*.example.test", "a", "wide", false));
  ASSERT_TRUE(store->claim_hostname("*.shop.example.test", "b", "narrow", false));
  ASSERT_TRUE(store->claim_hostname("www.shop.example.test", "c", "exact", false));
  auto tunnel_of = [&](std::string_view host) {
    auto c = store->find_hostname(host);
    return c ? c->tunnel_name : "-";
  };
  EXPECT_EQ(tunnel_of("www.shop.example.test"), "exact");
  EXPECT_EQ(tunnel_of("api.shop.example.test"), "narrow");
  EXPECT_EQ(tunnel_of("a.b.shop.example.test"), "narrow");
  EXPECT_EQ(tunnel_of("shop.example.test"), "wide");
  EXPECT_EQ(tunnel_of("x.example.test"), "wide");
  EXPECT_EQ(tunnel_of("example.test"), "-");
  EXPECT_EQ(tunnel_of("other.test"), "-");
  EXPECT_EQ(tunnel_of("test"), "-");
}

TEST_F(StoreTest, RevokeReleasesHostnames) {
  ASSERT_TRUE(store->create_token("laptop", {}));
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "laptop", "web", false));
  ASSERT_TRUE(store->claim_hostname("calm-otter-42.localhost", "laptop", "web", true));
  ASSERT_TRUE(store->claim_hostname("keep.example.test", "server", "web", false));
  ASSERT_TRUE(store->revoke_token("laptop"));
  EXPECT_FALSE(store->hostname_owner("shop.example.test"));
  EXPECT_FALSE(store->random_hostname("laptop", "web"));
  EXPECT_EQ(store->hostname_owner("keep.example.test"), "server");
}

// Writes a database of an older schema by hand: its SQL, then one token row made with
// `insert` (?1 the token's id, ?2 its key).
void write_old_db(const fs::path& path, const char* schema, const char* insert, const std::string& token) {
  const auto key = proto::token_key(token);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, schema, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, insert, -1, &st, nullptr), SQLITE_OK);
  const auto id = proto::token_id(token);
  sqlite3_bind_text(st, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st, 2, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

// A database written by the first release (schema 1), by hand with its SQL.
TEST_F(StoreTest, MigratesSchemaVersion1) {
  store.reset();
  fs::remove_all(data());
  fs::create_directories(data());
  const auto path = data() / "relay.db";
  const std::string token = "ph_a-token-made-by-version-1-of-the-schema";
  const auto key = proto::token_key(token);
  write_old_db(path, R"sql(
      CREATE TABLE tokens(name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, key BLOB NOT NULL,
        allow_subdomain TEXT NOT NULL DEFAULT '', allow_port TEXT NOT NULL DEFAULT '',
        allow_private TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, revoked_at INTEGER);
      CREATE TABLE reservations(token_name TEXT NOT NULL, tunnel_name TEXT NOT NULL,
        port INTEGER NOT NULL UNIQUE, updated_at INTEGER NOT NULL, PRIMARY KEY(token_name, tunnel_name));
      CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,
        event TEXT NOT NULL, detail TEXT NOT NULL);
      INSERT INTO reservations VALUES('old', 'ssh', 20001, 1700000000);
      INSERT INTO audit(ts_ms, event, detail) VALUES(1700000000000, 'token.create', 'name=old');
      PRAGMA user_version = 1;
    )sql",
               "INSERT INTO tokens(name, id, key, allow_subdomain, allow_port, created_at) "
               "VALUES('old', ?1, ?2, 'app-*', '20000-20010', 1700000000)",
               token);
  reopen();
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  auto rec = store->find_token(proto::token_id(token));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->name, "old");
  EXPECT_EQ(rec->key, key);
  EXPECT_EQ(rec->scopes.allow_subdomain, "app-*");
  EXPECT_EQ(rec->scopes.allow_hostname, "");
  EXPECT_EQ(rec->created_at, 1700000000);
  EXPECT_EQ(store->reserved_port("old", "ssh"), 20001);
  EXPECT_EQ(store->list_audit(10).size(), 1u);
  ASSERT_TRUE(store->claim_hostname("shop.example.test", "old", "web", false));
  ASSERT_TRUE(store->create_token("new", *parse_scopes("", "", "", "*.example.test")));
  reopen();  // already at the latest version: nothing to do, everything kept
  EXPECT_EQ(store->schema_version(), kStoreSchemaVersion);
  EXPECT_EQ(store->hostname_owner("shop.example.test"), "old");
  EXPECT_EQ(store->find_token_by_name("new")->scopes.allow_hostname, "*.example.test");
  ASSERT_TRUE(store->revoke_token("old"));
  EXPECT_FALSE(store->hostname_owner("shop.example.test"));
}

// A database written by schema version 4 (migrations 0-3, by hand) opens, gains
// tokens.allow_exit (empty for old tokens: their exits as before) and stores the new scope.
TEST_F(StoreTest, MigratesSchemaVersion4) {
  store.reset();
  fs::remove_all(data());
  fs::create_directories(data());
  const std::string token = "ph_a-token-made-by-version-4-of-the-schema";
  write_old_db(data() / "relay.db", R"sql(
      CREATE TABLE tokens(name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, key BLOB NOT NULL,
        allow_subdomain TEXT NOT NULL DEFAULT '', allow_port TEXT NOT NULL DEFAULT '',
        allow_private TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, revoked_at INTEGER,
        allow_hostname TEXT NOT NULL DEFAULT '', allow_connect TEXT NOT NULL DEFAULT '');
      CREATE TABLE reservations(token_name TEXT NOT NULL, tunnel_name TEXT NOT NULL,
        port INTEGER NOT NULL UNIQUE, updated_at INTEGER NOT NULL, PRIMARY KEY(token_name, tunnel_name));
      CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,
        event TEXT NOT NULL, detail TEXT NOT NULL);
      CREATE TABLE hostnames(host TEXT PRIMARY KEY, token_name TEXT NOT NULL, tunnel_name TEXT NOT NULL,
        random INTEGER NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX hostnames_by_tunnel ON hostnames(token_name, tunnel_name);
      CREATE TABLE udp_reservations(token_name TEXT NOT NULL, tunnel_name TEXT NOT NULL,
        port INTEGER NOT NULL UNIQUE, updated_at INTEGER NOT NULL, PRIMARY KEY(token_name, tunnel_name));
      CREATE TABLE private_names(name TEXT PRIMARY KEY, token_name TEXT NOT NULL, tunnel_name TEXT NOT NULL,
        created_at INTEGER NOT NULL);
      INSERT INTO private_names VALUES('office', 'old', 'exit-office', 1700000000);
      PRAGMA user_version = 4;
    )sql",
               "INSERT INTO tokens(name, id, key, allow_connect, created_at) VALUES('old', ?1, ?2, 'office', 1700000000)",
               token);
  reopen();
  EXPECT_EQ(store->schema_version(), 5);
  EXPECT_EQ(kStoreSchemaVersion, 5);
  auto rec = store->find_token(proto::token_id(token));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->scopes.allow_connect, "office");
  EXPECT_EQ(rec->scopes.allow_exit, "");
  EXPECT_TRUE(exit_allowed(rec->scopes, "office", false));  // the older way keeps working
  EXPECT_EQ(store->private_name_owner("office"), "old");
  ASSERT_TRUE(store->create_token("new", *parse_scopes("", "", "", "", "", "relay")));
  reopen();
  EXPECT_EQ(store->find_token_by_name("new")->scopes.allow_exit, "relay");
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
