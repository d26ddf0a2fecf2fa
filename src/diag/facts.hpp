// `porthole doctor`: the facts gathered about this machine and its network (gather.cpp does the
// I/O), and the pure verdict diagnose(Facts) -> Report (diagnose.cpp), unit-tested without I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "diag/ports.hpp"

namespace porthole::diag {

// Something we tried to find out: either known, or the reason it is not.
template <class T>
struct Fact {
  std::optional<T> value;
  std::string error;  // empty when value is set, or when the check was not attempted
  bool attempted = false;
  static Fact known(T v) { return Fact{std::move(v), "", true}; }
  static Fact failed(std::string why) { return Fact{std::nullopt, std::move(why), true}; }
  static Fact skipped(std::string why = "") { return Fact{std::nullopt, std::move(why), false}; }
};

struct Listener {
  std::string address;  // local address the socket is bound to
  Exposure exposure = Exposure::all;
  std::string process;  // "1234/sshd" or "" when unknown
};

enum class FirewallVerdict : std::uint8_t { open, blocked, maybe_blocked };
struct FirewallFact {
  FirewallVerdict verdict = FirewallVerdict::open;
  std::string where;  // "table inet filter chain input" — the deciding chain
  std::string rule;   // the rule, as text, when one decided ("" = the chain's policy)
};

struct NetworkFact {
  std::string interface, gateway, lan_address;
  int prefix_length = 0;
  std::optional<bool> lan_dynamic;  // true: the address has a lease (DHCP), not permanent
};

struct RouterMethod {
  std::string name;  // "PCP", "NAT-PMP", "UPnP"
  bool answered = false;
  bool ok = false;
  std::string external_ip;
  std::string error;
};

struct RouterFact {
  std::vector<RouterMethod> methods;
  std::string external_ip;  // first method that reported one; "" if none
};

struct MappingFact {
  bool present = false;
  std::string text;  // "upnp tcp 25565 -> 10.0.0.2:25565 (porthole)"
};

struct RelayFact {
  std::string observed_ip;        // what the relay sees as our address
  std::optional<bool> reachable;  // connect-back to observed_ip:PORT; nullopt: not asked
  std::string detail;
};

struct Facts {
  std::optional<std::uint16_t> port;  // PORT asked about
  Fact<std::vector<Listener>> listeners;
  Fact<FirewallFact> firewall;
  Fact<NetworkFact> network;
  Fact<RouterFact> router;
  Fact<MappingFact> mapping;
  Fact<RelayFact> relay;
  // Hops towards the relay (TTL 1, 2, ...): the home router, then what is behind it.
  Fact<std::vector<std::string>> hops;
};

enum class Status : std::uint8_t { ok, fail, warn, skip };
const char* status_symbol(Status s);  // ✓ ✗ ! –
const char* status_name(Status s);    // "ok" "fail" "warn" "skip"

struct Check {
  std::string id;     // stable key for --json: "listening", "firewall", "nat", ...
  std::string title;  // "Something listens on TCP port 25565"
  Status status = Status::skip;
  std::string detail;  // what we found
  std::string fix;     // what to do (for fail/warn)
};

// The NAT situation as doctor understands it.
enum class Nat : std::uint8_t { unknown, public_ip, double_nat, cgnat, router_refuses, mismatch };
const char* nat_name(Nat n);

struct Report {
  std::vector<Check> checks;
  Nat nat = Nat::unknown;
  std::string verdict;         // short key: "ok", "not_listening", "loopback_only", "cgnat", ...
  std::string recommendation;  // the one line people should act on
  bool has_failures() const;
};

Report diagnose(const Facts& f);

// Ports ISPs commonly block inbound on residential lines (25, 80, 135-139, 445).
bool isp_commonly_blocked(std::uint16_t port);

}  // namespace porthole::diag
