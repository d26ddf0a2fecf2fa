// UDP port reservations (schema version 3, table udp_reservations): the same rules as the TCP
// ones in store.cpp, in a table of their own so 5000/tcp and 5000/udp are different things.
// Statements are prepared per call: binds are rare (one per tunnel per session).
#include <chrono>

#include "core/metrics.hpp"
#include "relay/store.hpp"

namespace porthole::relay {

namespace {
metrics::Counter& udp_store_errors() {
  static auto& c = metrics::counter("porthole_relay_store_errors_total{op=\"udp_reservation\"}", "SQLite failures");
  return c;
}
std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

std::optional<std::uint16_t> Store::reserved_udp_port(std::string_view token_name, std::string_view tunnel_name) const {
  std::lock_guard lock(mu_);
  auto& db = const_cast<sqlite::Db&>(db_);  // a read; the connection itself is not const
  auto st = db.prepare("SELECT port FROM udp_reservations WHERE token_name = ?1 AND tunnel_name = ?2");
  if (!st) {
    udp_store_errors().inc();
    return std::nullopt;
  }
  st->bind(1, token_name).bind(2, tunnel_name);
  auto row = st->step();
  if (!row) udp_store_errors().inc();
  if (!row || !*row) return std::nullopt;
  const auto p = st->column_int(0);
  if (p <= 0 || p > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(p);
}

Result<void> Store::reserve_udp_port(std::string_view token_name, std::string_view tunnel_name, std::uint16_t port) {
  std::lock_guard lock(mu_);
  auto st = db_.prepare(
      "INSERT INTO udp_reservations(token_name, tunnel_name, port, updated_at) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(token_name, tunnel_name) DO UPDATE SET port = excluded.port, updated_at = excluded.updated_at");
  if (!st) return st.error();
  auto r = st->bind(1, token_name).bind(2, tunnel_name).bind(3, port).bind(4, now_seconds()).run();
  if (!r) {
    udp_store_errors().inc();
    if (r.error().message.find("UNIQUE") != std::string::npos) {
      return make_error("udp port {} is reserved by another tunnel", port);
    }
    return r.error();
  }
  return {};
}

bool Store::udp_port_reserved_by_other(std::uint16_t port, std::string_view token_name,
                                       std::string_view tunnel_name) const {
  std::lock_guard lock(mu_);
  auto& db = const_cast<sqlite::Db&>(db_);
  auto st = db.prepare("SELECT token_name, tunnel_name FROM udp_reservations WHERE port = ?1");
  if (!st) {
    udp_store_errors().inc();
    return true;  // fail closed
  }
  st->bind(1, port);
  auto row = st->step();
  if (!row) {
    udp_store_errors().inc();
    return true;
  }
  return *row && (st->column_text(0) != token_name || st->column_text(1) != tunnel_name);
}

Result<void> Store::release_udp_ports_locked(std::string_view token_name) {
  auto st = db_.prepare("DELETE FROM udp_reservations WHERE token_name = ?1");
  if (!st) return st.error();
  return st->bind(1, token_name).run();
}

}  // namespace porthole::relay
