// The schema of the relay's database (DATA/relay.db) and its migrations, versioned with
// PRAGMA user_version. Used by Store::open; separate so the SQL history reads in one place.
#pragma once

#include "core/result.hpp"
#include "relay/sqlite.hpp"

namespace porthole::relay {

// 1: tokens, reservations, audit. 2: tokens.allow_hostname, hostnames. 3: udp_reservations.
// 4: tokens.allow_connect, private_names. 5: tokens.allow_exit.
inline constexpr int kStoreSchemaVersion = 5;

// PRAGMA user_version, or -1 when it cannot be read.
int read_schema_version(sqlite::Db& db);

// Brings the database to kStoreSchemaVersion: creates it when empty, runs each pending
// migration in order, all in one transaction (another process may be migrating at the same
// moment: the version is read again under the write lock). Refuses a newer schema.
Result<void> migrate_schema(sqlite::Db& db);

}  // namespace porthole::relay
