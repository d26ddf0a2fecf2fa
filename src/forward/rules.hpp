// Router-style forwarding rules (`porthole forward`): the model, the parsers of the command-line
// rule and of the rules file, the expansion of port ranges into listeners, and the diff a reload
// applies. Pure (no I/O): unit-tested and fuzzed (tests/fuzz/fuzz_forward_rules.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "core/result.hpp"

namespace porthole::forward {

enum class Proto : std::uint8_t { tcp, udp };
std::string_view proto_name(Proto p);

// The bind address when a rule names none: loopback, like `ssh -L`. Opening a port to a
// network is something the user writes (and is warned about).
inline constexpr std::string_view kDefaultBind = "127.0.0.1";
// Expanding ranges beyond this many listening ports is refused (each costs sockets per thread).
inline constexpr std::size_t kMaxListeners = 4096;

struct Rule {
  Proto proto = Proto::tcp;
  std::string bind_host{kDefaultBind};  // an IP literal (no brackets)
  PortRange ports;
  std::string target_host;  // a name (resolved at connect time) or an IP literal
  PortRange target_ports;   // as many ports as `ports`, or one (many-to-one)
  std::vector<std::string> allow;  // CIDRs; empty = every peer
  std::string origin;              // where the rule came from, for messages: "FILE:LINE" or the flag
};

// One listening port of a rule after range expansion.
struct Listener {
  Proto proto = Proto::tcp;
  std::string bind_host;
  std::uint16_t port = 0;
  std::string target_host;
  std::uint16_t target_port = 0;
  std::vector<std::string> allow;
  std::string origin;

  std::string key() const;  // "tcp 127.0.0.1:8080": what a reload matches old and new by
  std::string target() const { return format_host_port(target_host, target_port); }
  // Same target and allow list (the origin may move to another line without a change).
  bool same_behaviour(const Listener& o) const {
    return target_host == o.target_host && target_port == o.target_port && allow == o.allow;
  }
};

// "[BIND:]PORT[-PORT]:HOST:HOSTPORT[-PORT]" (IPv6 in brackets: "[::1]:8080:[::1]:80").
// `allow` entries are checked here too. Errors name the argument.
Result<Rule> parse_rule_arg(std::string_view arg, Proto proto, const std::vector<std::string>& allow);

// A rules file: one rule a line, `tcp|udp [BIND:]PORT[-PORT] HOST:PORT[-PORT] [allow CIDR,...]`,
// `#` starts a comment, blank lines are fine. Every error is reported, each as "FILE:LINE: ...",
// one a line; any error rejects the whole file.
Result<std::vector<Rule>> parse_rules_file(std::string_view text, std::string_view file_name);

// One Listener per port. Two rules on the same protocol, address and port are an error naming
// both origins; so are more than kMaxListeners ports.
Result<std::vector<Listener>> expand(const std::vector<Rule>& rules);

// What a reload does, by Listener::key(): `added` and `changed` (the new version) need new
// sockets; `removed` and the old versions of `changed` close their sockets. Established
// connections are never closed by a reload; unchanged listeners are left alone.
struct Diff {
  std::vector<Listener> added, removed, changed;
  std::size_t unchanged = 0;
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
Diff diff(const std::vector<Listener>& old_set, const std::vector<Listener>& new_set);

// True for 127.0.0.0/8, ::1, ::ffff:127.x and "localhost": a port bound there is not open to
// any network.
bool is_loopback_host(std::string_view host);

}  // namespace porthole::forward
