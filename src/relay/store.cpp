#include "relay/store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "core/hostname.hpp"
#include "core/metrics.hpp"
#include "net/tls_context.hpp"

namespace porthole::relay {
namespace {

constexpr std::string_view kTokenColumns =
    "SELECT name, id, key, allow_subdomain, allow_port, allow_private, created_at, revoked_at, "
    "allow_hostname, allow_connect, allow_exit "
    "FROM tokens ";
constexpr std::string_view kHostnameColumns =
    "SELECT host, token_name, tunnel_name, random, created_at FROM hostnames ";
constexpr std::int64_t kAuditKeep = 100000;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t now_s() {
  return now_ms() / 1000;
}

metrics::Counter& store_errors(std::string_view op) {
  return metrics::counter(fmt::format("porthole_relay_store_errors_total{{op=\"{}\"}}", op),
                          "Relay state database operations that failed");
}

Result<TokenRecord> row_to_record(const sqlite::Statement& st) {
  TokenRecord rec;
  rec.name = st.column_text(0);
  rec.id = st.column_text(1);
  auto key = st.column_blob(2);
  if (key.size() != rec.key.size())
    return make_error("token {}: stored key has {} bytes", rec.name, key.size());
  std::copy(key.begin(), key.end(), rec.key.begin());
  auto scopes = parse_scopes(st.column_text(3), st.column_text(4), st.column_text(5), st.column_text(8),
                             st.column_text(9), st.column_text(10));
  if (!scopes) return make_error("token {}: stored scope: {}", rec.name, scopes.error().message);
  rec.scopes = *scopes;
  rec.created_at = st.column_int(6);
  if (!st.is_null(7)) rec.revoked_at = st.column_int(7);
  return rec;
}

Result<void> create_private_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error("cannot create {}: {}", path, std::strerror(errno));
  ::close(fd);
  return {};
}

}  // namespace

struct Store::Statements {
  sqlite::Statement insert_token, delete_revoked_name, token_by_id, token_by_name, all_tokens, revoke,
      release_all_of_token, get_reservation, upsert_reservation, port_holder, delete_reservation,
      insert_audit, list_audit, prune_audit, release_hostnames_of_token, upsert_hostname, drop_other_random,
      hostname_by_host, random_of_tunnel, delete_hostname;
};

Result<void> validate_token_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return make_error("token name must have 1 to 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return make_error("token name '{}': use letters, digits, '-', '_' and '.'", name);
  }
  if (name.starts_with("cli-")) return make_error("token name '{}': the prefix cli- is reserved", name);
  return {};
}

Store::Store(sqlite::Db db) : db_(std::move(db)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& data_dir, bool create) {
  const std::string path = (std::filesystem::path(data_dir) / "relay.db").string();
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) return open_file(":memory:");
  if (auto r = net::ensure_data_dir(data_dir); !r) return r.error();
  if (auto r = create_private_file(path); !r) return r.error();
  return open_file(path);
}

Result<std::unique_ptr<Store>> Store::open_file(const std::string& path) {
  auto db = sqlite::Db::open(path, true);
  if (!db) return db.error();
  std::unique_ptr<Store> store(new Store(std::move(*db)));
  if (auto r = store->init(); !r) return make_error("{}: {}", path, r.error().message);
  return store;
}

Result<void> Store::init() {
  if (auto r = db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"); !r) return r;
  if (auto r = migrate_schema(db_); !r) return r;
  st_ = std::make_unique<Statements>();
  const std::string cols(kTokenColumns), host_cols(kHostnameColumns);
  std::pair<sqlite::Statement*, std::string> sqls[] = {
      {&st_->insert_token,
       "INSERT INTO tokens(name, id, key, allow_subdomain, allow_port, allow_private, created_at, "
       "allow_hostname, allow_connect, allow_exit) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
      {&st_->delete_revoked_name, "DELETE FROM tokens WHERE name = ?1 AND revoked_at IS NOT NULL"},
      {&st_->token_by_id, cols + "WHERE id = ?1"},
      {&st_->token_by_name, cols + "WHERE name = ?1"},
      {&st_->all_tokens, cols + "ORDER BY name"},
      {&st_->revoke, "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL"},
      {&st_->release_all_of_token, "DELETE FROM reservations WHERE token_name = ?1"},
      {&st_->get_reservation, "SELECT port FROM reservations WHERE token_name = ?1 AND tunnel_name = ?2"},
      {&st_->upsert_reservation,
       "INSERT INTO reservations(token_name, tunnel_name, port, updated_at) VALUES(?1, ?2, ?3, ?4) "
       "ON CONFLICT(token_name, tunnel_name) DO UPDATE SET port = excluded.port, updated_at = "
       "excluded.updated_at"},
      {&st_->port_holder, "SELECT token_name, tunnel_name FROM reservations WHERE port = ?1"},
      {&st_->delete_reservation, "DELETE FROM reservations WHERE token_name = ?1 AND tunnel_name = ?2"},
      {&st_->insert_audit, "INSERT INTO audit(ts_ms, event, detail) VALUES(?1, ?2, ?3)"},
      {&st_->list_audit, "SELECT id, ts_ms, event, detail FROM audit ORDER BY id DESC LIMIT ?1"},
      {&st_->prune_audit, "DELETE FROM audit WHERE id <= (SELECT max(id) FROM audit) - ?1"},
      {&st_->release_hostnames_of_token, "DELETE FROM hostnames WHERE token_name = ?1"},
      {&st_->upsert_hostname,
       "INSERT INTO hostnames(host, token_name, tunnel_name, random, created_at) VALUES(?1, ?2, ?3, ?4, ?5) "
       "ON CONFLICT(host) DO UPDATE SET tunnel_name = excluded.tunnel_name, random = excluded.random "
       "WHERE hostnames.token_name = excluded.token_name"},
      {&st_->drop_other_random,
       "DELETE FROM hostnames WHERE token_name = ?1 AND tunnel_name = ?2 AND random = 1 AND host <> ?3"},
      {&st_->hostname_by_host, host_cols + "WHERE host = ?1"},
      {&st_->random_of_tunnel,
       "SELECT host FROM hostnames WHERE token_name = ?1 AND tunnel_name = ?2 AND random = 1 "
       "ORDER BY created_at DESC, host LIMIT 1"},
      {&st_->delete_hostname, "DELETE FROM hostnames WHERE host = ?1 AND token_name = ?2"},
  };
  for (auto& [stmt, sql] : sqls) {
    auto s = db_.prepare(sql);
    if (!s) return s.error();
    *stmt = std::move(*s);
  }
  return {};
}

int Store::schema_version() const {
  std::lock_guard lock(mu_);
  return read_schema_version(const_cast<sqlite::Db&>(db_));
}

Result<std::string> Store::create_token(std::string_view name, const Scopes& scopes) {
  if (auto r = validate_token_name(name); !r) return r.error();
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return make_error("store not initialised");
  std::string token = proto::generate_token();
  proto::Key key = proto::token_key(token);
  sqlite::Transaction tx(db_);
  if (auto r = tx.begin(); !r) return r.error();
  if (auto r = st_->delete_revoked_name.bind(1, name).run(); !r) return r.error();
  auto r = st_->insert_token.bind(1, name)
               .bind(2, proto::token_id(token))
               .bind_blob(3, key)
               .bind(4, scopes.allow_subdomain)
               .bind(5, format_port_scope(scopes.allow_port))
               .bind(6, scopes.allow_private)
               .bind(7, now_s())
               .bind(8, scopes.allow_hostname)
               .bind(9, scopes.allow_connect)
               .bind(10, scopes.allow_exit)
               .run();
  if (!r) {
    if (r.error().message.find("UNIQUE") != std::string::npos)
      return make_error("a token named '{}' exists", name);
    return r.error();
  }
  if (auto c = tx.commit(); !c) return c.error();
  return token;
}

Result<void> Store::add_static_token(std::string_view token) {
  if (token.size() < 8) {
    return make_error(
        "token is too short (at least 8 characters; `porthole token create` makes strong ones)");
  }
  if (token.size() < 16) {
    spdlog::warn("token {} is short ({} characters): use `porthole token create` for a strong one",
                 proto::token_id(token), token.size());
  }
  TokenRecord rec;
  rec.id = proto::token_id(token);
  rec.name = "cli-" + rec.id;
  rec.key = proto::token_key(token);
  rec.created_at = now_s();
  rec.is_static = true;
  std::lock_guard lock(mu_);
  static_tokens_.insert_or_assign(rec.id, rec);
  return {};
}

std::optional<TokenRecord> Store::find_stored(std::string_view column_sql, std::string_view value) const {
  auto& st = column_sql == "id" ? st_->token_by_id : st_->token_by_name;
  st.bind(1, value);
  auto row = st.step();
  std::optional<TokenRecord> out;
  if (row && *row) {
    auto rec = row_to_record(st);
    if (rec) {
      out = std::move(*rec);
    } else {
      store_errors("bad_row").inc();
      spdlog::error("relay.db: {}", rec.error().message);
    }
  } else if (!row) {
    store_errors("find_token").inc();
    spdlog::error("relay.db: {}", row.error().message);
  }
  st.reset();
  return out;
}

std::optional<TokenRecord> Store::find_token(std::string_view id) const {
  std::lock_guard lock(mu_);
  if (auto it = static_tokens_.find(id); it != static_tokens_.end()) return it->second;
  if (st_ == nullptr) return std::nullopt;
  auto rec = find_stored("id", id);
  if (rec && rec->revoked_at) return std::nullopt;
  return rec;
}

std::optional<TokenRecord> Store::find_token_by_name(std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, rec] : static_tokens_) {
    if (rec.name == name) return rec;
  }
  if (st_ == nullptr) return std::nullopt;
  return find_stored("name", name);
}

std::vector<TokenRecord> Store::list_tokens() const {
  std::lock_guard lock(mu_);
  std::vector<TokenRecord> out;
  for (const auto& [id, rec] : static_tokens_) out.push_back(rec);
  if (st_ == nullptr) return out;
  auto& st = st_->all_tokens;
  for (auto row = st.step(); row && *row; row = st.step()) {
    if (auto rec = row_to_record(st)) {
      out.push_back(std::move(*rec));
    } else {
      spdlog::warn("relay.db: {}", rec.error().message);
    }
  }
  st.reset();
  return out;
}

Result<void> Store::revoke_token(std::string_view name) {
  std::lock_guard lock(mu_);
  if (name.starts_with("cli-")) {
    return make_error("token '{}' comes from --token or relay.toml: remove it there and restart the relay",
                      name);
  }
  if (st_ == nullptr) return make_error("no token named '{}'", name);
  sqlite::Transaction tx(db_);
  if (auto r = tx.begin(); !r) return r;
  if (auto r = st_->revoke.bind(1, name).bind(2, now_s()).run(); !r) return r;
  if (db_.changes() == 0) {
    auto existing = find_stored("name", name);
    if (existing) return make_error("token '{}' is already revoked", name);
    return make_error("no token named '{}'", name);
  }
  if (auto r = st_->release_all_of_token.bind(1, name).run(); !r) return r;
  if (auto r = st_->release_hostnames_of_token.bind(1, name).run(); !r) return r;
  if (auto r = release_udp_ports_locked(name); !r) return r;
  if (auto r = release_private_names_locked(name); !r) return r;
  return tx.commit();
}

std::optional<std::uint16_t> Store::reserved_port(std::string_view token_name,
                                                  std::string_view tunnel_name) const {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return std::nullopt;
  auto& st = st_->get_reservation;
  st.bind(1, token_name).bind(2, tunnel_name);
  auto row = st.step();
  std::optional<std::uint16_t> out;
  if (row && *row) {
    auto p = st.column_int(0);
    if (p > 0 && p <= 65535) out = static_cast<std::uint16_t>(p);
  } else if (!row) {
    store_errors("reserved_port").inc();
  }
  st.reset();
  return out;
}

Result<void> Store::reserve_port(std::string_view token_name, std::string_view tunnel_name,
                                 std::uint16_t port) {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return make_error("store not initialised");
  auto r =
      st_->upsert_reservation.bind(1, token_name).bind(2, tunnel_name).bind(3, port).bind(4, now_s()).run();
  if (!r) {
    store_errors("reserve_port").inc();
    if (r.error().message.find("UNIQUE") != std::string::npos) {
      return make_error("port {} is reserved by another tunnel", port);
    }
    return r.error();
  }
  return {};
}

bool Store::port_reserved_by_other(std::uint16_t port, std::string_view token_name,
                                   std::string_view tunnel_name) const {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return false;
  auto& st = st_->port_holder;
  st.bind(1, port);
  auto row = st.step();
  bool other = false;
  if (row && *row) other = st.column_text(0) != token_name || st.column_text(1) != tunnel_name;
  if (!row) {
    store_errors("port_reserved_by_other").inc();
    other = true;  // fail closed: do not hand out a port we could not check
  }
  st.reset();
  return other;
}

Result<void> Store::release_port(std::string_view token_name, std::string_view tunnel_name) {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return make_error("store not initialised");
  return st_->delete_reservation.bind(1, token_name).bind(2, tunnel_name).run();
}

Result<void> Store::claim_hostname(std::string_view host, std::string_view token_name,
                                   std::string_view tunnel_name, bool random) {
  auto normalised = normalize_hostname(host, /*allow_wildcard=*/true);
  if (!normalised) return make_error("host name: {}", normalised.error().message);
  if (*normalised != host) return make_error("host name '{}' is not normalised (use {})", host, *normalised);
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return make_error("store not initialised");
  sqlite::Transaction tx(db_);
  if (auto r = tx.begin(); !r) return r;
  auto r = st_->upsert_hostname.bind(1, host)
               .bind(2, token_name)
               .bind(3, tunnel_name)
               .bind(4, std::int64_t{random ? 1 : 0})
               .bind(5, now_s())
               .run();
  if (!r) {
    store_errors("claim_hostname").inc();
    return r;
  }
  // No row changed: the name exists and the upsert's WHERE (same token) was false.
  if (db_.changes() == 0) return make_error("host name {} is held by another token", host);
  if (random) {
    if (auto d = st_->drop_other_random.bind(1, token_name).bind(2, tunnel_name).bind(3, host).run(); !d) {
      store_errors("claim_hostname").inc();
      return d;
    }
  }
  return tx.commit();
}

std::optional<HostnameClaim> Store::hostname_row(std::string_view host) const {
  auto& st = st_->hostname_by_host;
  st.bind(1, host);
  auto row = st.step();
  std::optional<HostnameClaim> out;
  if (row && *row) {
    out = HostnameClaim{st.column_text(0), st.column_text(1), st.column_text(2), st.column_int(3) != 0,
                        st.column_int(4)};
  } else if (!row) {
    store_errors("find_hostname").inc();
    spdlog::error("relay.db: {}", row.error().message);
  }
  st.reset();
  return out;
}

std::optional<std::string> Store::hostname_owner(std::string_view host) const {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return std::nullopt;
  auto claim = hostname_row(host);
  if (!claim) return std::nullopt;
  return std::move(claim->token_name);
}

std::optional<HostnameClaim> Store::find_hostname(std::string_view host) const {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return std::nullopt;
  if (auto exact = hostname_row(host)) return exact;
  // "*.b.c" then "*.c" for "a.b.c": the longest suffix first.
  for (auto dot = host.find('.'); dot != std::string_view::npos; dot = host.find('.', dot + 1)) {
    if (dot + 1 >= host.size()) break;
    if (auto wild = hostname_row(fmt::format("*.{}", host.substr(dot + 1)))) return wild;
  }
  return std::nullopt;
}

std::optional<std::string> Store::random_hostname(std::string_view token_name,
                                                  std::string_view tunnel_name) const {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return std::nullopt;
  auto& st = st_->random_of_tunnel;
  st.bind(1, token_name).bind(2, tunnel_name);
  auto row = st.step();
  std::optional<std::string> out;
  if (row && *row) {
    out = st.column_text(0);
  } else if (!row) {
    store_errors("random_hostname").inc();
  }
  st.reset();
  return out;
}

Result<void> Store::release_hostname(std::string_view host, std::string_view token_name) {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return make_error("store not initialised");
  if (auto r = st_->delete_hostname.bind(1, host).bind(2, token_name).run(); !r) {
    store_errors("release_hostname").inc();
    return r;
  }
  if (db_.changes() == 0) return make_error("token '{}' does not hold host name {}", token_name, host);
  return {};
}

void Store::audit(std::string_view event, std::string_view detail) {
  std::lock_guard lock(mu_);
  if (st_ == nullptr) return;
  auto r = st_->insert_audit.bind(1, now_ms()).bind(2, event).bind(3, detail).run();
  if (!r) {
    store_errors("audit").inc();
    spdlog::warn("relay.db: cannot write audit event {}: {}", event, r.error().message);
    return;
  }
  // Keep the newest kAuditKeep rows; prune now and then, not on every insert.
  if (db_.last_insert_rowid() % 1024 == 0) (void)st_->prune_audit.bind(1, kAuditKeep).run();
}

std::vector<AuditEntry> Store::list_audit(std::size_t limit) const {
  std::lock_guard lock(mu_);
  std::vector<AuditEntry> out;
  if (st_ == nullptr) return out;
  auto& st = st_->list_audit;
  st.bind(1, static_cast<std::int64_t>(std::min<std::size_t>(limit, 1000000)));
  for (auto row = st.step(); row && *row; row = st.step()) {
    out.push_back(AuditEntry{st.column_int(0), st.column_int(1), st.column_text(2), st.column_text(3)});
  }
  st.reset();
  return out;
}

}  // namespace porthole::relay
