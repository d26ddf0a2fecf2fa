#include "relay/store_schema.hpp"

#include <iterator>
#include <string_view>

#include <spdlog/spdlog.h>

namespace porthole::relay {
namespace {

// kMigrations[v] takes a database from version v to v + 1. Never edit a released entry: add one.
constexpr std::string_view kMigrations[] = {
    // 0 → 1: the first schema.
    R"sql(
CREATE TABLE tokens(
  name TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  key BLOB NOT NULL,
  allow_subdomain TEXT NOT NULL DEFAULT '',
  allow_port TEXT NOT NULL DEFAULT '',
  allow_private TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE reservations(
  token_name TEXT NOT NULL,
  tunnel_name TEXT NOT NULL,
  port INTEGER NOT NULL UNIQUE,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(token_name, tunnel_name)
);
CREATE TABLE audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL,
  event TEXT NOT NULL,
  detail TEXT NOT NULL
);
PRAGMA user_version = 1;
)sql",
    // 1 → 2: HTTP host names (the token scope, and who holds which name).
    R"sql(
ALTER TABLE tokens ADD COLUMN allow_hostname TEXT NOT NULL DEFAULT '';
CREATE TABLE hostnames(
  host TEXT PRIMARY KEY,
  token_name TEXT NOT NULL,
  tunnel_name TEXT NOT NULL,
  random INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX hostnames_by_tunnel ON hostnames(token_name, tunnel_name);
PRAGMA user_version = 2;
)sql",
    // 2 → 3: UDP port reservations, apart from TCP ones (5000/tcp and 5000/udp are different).
    R"sql(
CREATE TABLE udp_reservations(
  token_name TEXT NOT NULL,
  tunnel_name TEXT NOT NULL,
  port INTEGER NOT NULL UNIQUE,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY(token_name, tunnel_name)
);
PRAGMA user_version = 3;
)sql",
    // 3 → 4: private (site-to-site) names, who holds which, and the scope of names a token may
    // reach with `porthole connect`.
    R"sql(
ALTER TABLE tokens ADD COLUMN allow_connect TEXT NOT NULL DEFAULT '';
CREATE TABLE private_names(
  name TEXT PRIMARY KEY,
  token_name TEXT NOT NULL,
  tunnel_name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
PRAGMA user_version = 4;
)sql",
    // 4 → 5: the scope of exits a token may use (`--allow-exit`; "relay" = the relay's own).
    R"sql(
ALTER TABLE tokens ADD COLUMN allow_exit TEXT NOT NULL DEFAULT '';
PRAGMA user_version = 5;
)sql",
};
static_assert(static_cast<int>(std::size(kMigrations)) == kStoreSchemaVersion);

}  // namespace

int read_schema_version(sqlite::Db& db) {
  auto st = db.prepare("PRAGMA user_version");
  if (!st) return -1;
  auto row = st->step();
  return row && *row ? static_cast<int>(st->column_int(0)) : -1;
}

Result<void> migrate_schema(sqlite::Db& db) {
  auto check = [](int version) -> Result<void> {
    if (version < 0) return make_error("cannot read the schema version");
    if (version > kStoreSchemaVersion) {
      return make_error(
          "database schema version {} is newer than this porthole understands ({}); upgrade porthole",
          version, kStoreSchemaVersion);
    }
    return {};
  };
  int version = read_schema_version(db);
  if (auto r = check(version); !r || version == kStoreSchemaVersion) return r;
  sqlite::Transaction tx(db);
  if (auto r = tx.begin(); !r) return r;
  const int from = read_schema_version(db);  // another process may have migrated meanwhile
  if (auto r = check(from); !r) return r;
  for (int v = from; v < kStoreSchemaVersion; ++v) {
    if (auto r = db.exec(kMigrations[v]); !r) {
      return make_error("upgrading the schema from version {} to {}: {}", v, v + 1, r.error().message);
    }
  }
  if (auto r = tx.commit(); !r) return r;
  if (from > 0) spdlog::info("relay.db: schema upgraded from version {} to {}", from, kStoreSchemaVersion);
  return {};
}

}  // namespace porthole::relay
