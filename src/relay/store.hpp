// The relay's state in SQLite (DATA/relay.db, WAL): tokens (hashed, never the secret),
// port reservations (an agent gets its public port back after a restart), HTTP host names
// (owned by the token that claimed them) and an audit log. Schema: relay/store_schema.hpp.
// Thread-safe: every call takes the store's mutex (none of this is on the data path).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "proto/auth.hpp"
#include "relay/scopes.hpp"
#include "relay/sqlite.hpp"
#include "relay/store_schema.hpp"

namespace porthole::relay {

struct TokenRecord {
  std::string name;  // unique; "cli-<id>" for --token / relay.toml tokens
  std::string id;    // proto::token_id(token)
  proto::Key key{};  // proto::token_key(token)
  Scopes scopes;
  std::int64_t created_at = 0;  // unix seconds
  std::optional<std::int64_t> revoked_at;
  bool is_static = false;  // from --token / relay.toml: kept in memory only
};

// A row of the hostnames table.
struct HostnameClaim {
  std::string host;  // normalised (core/hostname.hpp); "*.S" for a wildcard
  std::string token_name, tunnel_name;
  bool random = false;          // given by the relay (random_readable_name), not asked for
  std::int64_t created_at = 0;  // unix seconds
  friend bool operator==(const HostnameClaim&, const HostnameClaim&) = default;
};

struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t ts_ms = 0;  // unix milliseconds
  std::string event, detail;
};

class Store {
 public:
  // DATA/relay.db, creating the data dir (0700) and the file (0600) when `create`.
  // With create == false and no database yet, returns an empty in-memory store.
  static Result<std::unique_ptr<Store>> open(const std::string& data_dir, bool create = true);
  // A database at an exact path (":memory:" for tests).
  static Result<std::unique_ptr<Store>> open_file(const std::string& path);

  // A new token named `name` ([A-Za-z0-9._-], 1..64, not starting with "cli-"); returns the
  // secret, which is not stored and cannot be shown again. A revoked token's name may be reused.
  Result<std::string> create_token(std::string_view name, const Scopes& scopes);
  // Accepts `token` (from --token or relay.toml) with no scopes, as "cli-<id>", in memory.
  // Fails for fewer than 8 characters; warns below 16.
  Result<void> add_static_token(std::string_view token);
  // The token with this id, unless revoked or unknown.
  std::optional<TokenRecord> find_token(std::string_view id) const;
  std::optional<TokenRecord> find_token_by_name(std::string_view name) const;
  // Every token (static ones first, then stored ones by name), revoked ones included.
  std::vector<TokenRecord> list_tokens() const;
  // Marks the token revoked and releases its port reservations and host names.
  Result<void> revoke_token(std::string_view name);

  std::optional<std::uint16_t> reserved_port(std::string_view token_name, std::string_view tunnel_name) const;
  // Records (or moves) the reservation of token/tunnel; fails when another pair holds `port`.
  Result<void> reserve_port(std::string_view token_name, std::string_view tunnel_name, std::uint16_t port);
  // UDP port reservations (store_udp.cpp), kept apart from TCP ones: 5000/tcp and 5000/udp
  // are different things. Same rules as the TCP ones above.
  std::optional<std::uint16_t> reserved_udp_port(std::string_view token_name, std::string_view tunnel_name) const;
  Result<void> reserve_udp_port(std::string_view token_name, std::string_view tunnel_name, std::uint16_t port);
  bool udp_port_reserved_by_other(std::uint16_t port, std::string_view token_name, std::string_view tunnel_name) const;
  bool port_reserved_by_other(std::uint16_t port, std::string_view token_name,
                              std::string_view tunnel_name) const;
  Result<void> release_port(std::string_view token_name, std::string_view tunnel_name);

  // Host names belong to the token that claimed them, whether its agent is online or not.
  // `host` must be normalised (normalize_hostname(host, true) == host). Inserts, or moves the
  // name to `tunnel_name` (and sets `random`) when this token already holds it; fails with
  // "host name HOST is held by another token" otherwise. A random claim also releases any
  // other random name of the same token + tunnel (a pair has at most one).
  Result<void> claim_hostname(std::string_view host, std::string_view token_name,
                              std::string_view tunnel_name, bool random);
  // The token holding exactly `host`.
  std::optional<std::string> hostname_owner(std::string_view host) const;
  // The claim serving a visitor's `host` (normalised, no wildcard): the exact name, else the
  // most specific wildcard ("*.a.example.test" before "*.example.test").
  std::optional<HostnameClaim> find_hostname(std::string_view host) const;
  // The random name this token + tunnel was given before, if it still holds it.
  std::optional<std::string> random_hostname(std::string_view token_name, std::string_view tunnel_name) const;
  // Fails when `token_name` does not hold `host`.
  Result<void> release_hostname(std::string_view host, std::string_view token_name);

  // Private (site-to-site) names belong to the token that registered them, like host names
  // (store_private.cpp). `name` must be normalised (normalize_private_name). Inserts, or moves
  // the name to `tunnel_name` when this token already holds it; fails with "private name NAME
  // is held by another token" otherwise.
  Result<void> claim_private_name(std::string_view name, std::string_view token_name, std::string_view tunnel_name);
  std::optional<std::string> private_name_owner(std::string_view name) const;

  // Appends a timestamped row; failures are logged and counted, never thrown.
  void audit(std::string_view event, std::string_view detail);
  // Newest first.
  std::vector<AuditEntry> list_audit(std::size_t limit) const;

  int schema_version() const;

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

 private:
  struct Statements;
  explicit Store(sqlite::Db db);
  Result<void> init();
  std::optional<TokenRecord> find_stored(std::string_view column_sql, std::string_view value) const;
  std::optional<HostnameClaim> hostname_row(std::string_view host) const;
  Result<void> release_private_names_locked(std::string_view token_name);  // mu_ held

  Result<void> release_udp_ports_locked(std::string_view token_name);  // mu_ held (revoke)
  mutable std::mutex mu_;
  sqlite::Db db_;
  std::unique_ptr<Statements> st_;
  std::map<std::string, TokenRecord, std::less<>> static_tokens_;  // by id
};

// Checks a token name for create_token / the CLI.
Result<void> validate_token_name(std::string_view name);

}  // namespace porthole::relay
