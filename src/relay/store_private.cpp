// The private_names table (schema version 3): which token holds which private name. Not on
// the data path (a bind, a refused connect), so statements are prepared per call.
#include <chrono>

#include <spdlog/spdlog.h>

#include "core/hostname.hpp"
#include "core/metrics.hpp"
#include "relay/store.hpp"

namespace porthole::relay {

namespace {
metrics::Counter& private_store_errors() {
  static auto& c = metrics::counter("porthole_relay_store_errors_total{op=\"private_name\"}",
                                    "Relay state database operations that failed");
  return c;
}
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

Result<void> Store::claim_private_name(std::string_view name, std::string_view token_name,
                                       std::string_view tunnel_name) {
  auto normalised = normalize_private_name(name);
  if (!normalised) return make_error("private name: {}", normalised.error().message);
  if (*normalised != name) return make_error("private name '{}' is not normalised (use {})", name, *normalised);
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "INSERT INTO private_names(name, token_name, tunnel_name, created_at) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET tunnel_name = excluded.tunnel_name "
      "WHERE private_names.token_name = excluded.token_name");
  if (!st) return st.error();
  if (auto r = st->bind(1, name).bind(2, token_name).bind(3, tunnel_name).bind(4, unix_now()).run(); !r) {
    private_store_errors().inc();
    return r;
  }
  // No row changed: the name exists and the upsert's WHERE (same token) was false.
  if (db_.changes() == 0) return make_error(Errc::conflict, "private name {} is held by another token", name);
  return {};
}

std::optional<std::string> Store::private_name_owner(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto st = const_cast<sqlite::Db&>(db_).prepare("SELECT token_name FROM private_names WHERE name = ?1");
  if (!st) return std::nullopt;
  st->bind(1, name);
  auto row = st->step();
  if (!row) {
    private_store_errors().inc();
    spdlog::error("relay.db: {}", row.error().message);
    return std::nullopt;
  }
  if (!*row) return std::nullopt;
  return st->column_text(0);
}

Result<void> Store::release_private_names_locked(std::string_view token_name) {
  auto st = db_.prepare("DELETE FROM private_names WHERE token_name = ?1");
  if (!st) return st.error();
  return st->bind(1, token_name).run();
}

}  // namespace porthole::relay
