// The connection step of an exit, shared by the agent exit (`porthole exit NAME`,
// agent/exit_tunnel.cpp) and the relay's own exit (`porthole socks --via relay`,
// relay/relay_exit.cpp): resolve the destination (asynchronously: never blocking the event
// loop), check every address with the allow-list (policy/dest_check.hpp), connect to exactly the
// addresses that passed (never resolving again: no DNS-rebinding way around the check). A
// refusal is logged and counted (porthole_exit_refused_total{reason}) before any connection
// attempt (docs/socks.md, docs/security.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "policy/dest_check.hpp"

namespace porthole::egress {

struct ExitDial {
  // The socket, connected, when `error` is empty.
  std::optional<net::tcp::socket> socket;
  // Why not: Errc::forbidden (refused by the check, counted), Errc::timed_out / Errc::generic
  // (resolving failed or timed out), Errc::refused / Errc::timed_out with `connect_failed`
  // (the check passed, the connection attempt failed).
  std::optional<Error> error;
  bool connect_failed = false;
  std::string endpoint;  // the address connected to, for logs
};

struct ExitRules {
  std::string exit_name;                // for logs: "office", "relay"
  std::vector<std::string> allow_dest;  // DestPolicy entries
  std::string hosts_file;               // "" none
  std::string hint = "--allow-dest";    // how the operator lists a destination (in refusals)
};

// `target` is HOST:PORT from the stream's OPEN; `visitor` names the client in logs.
net::Task<ExitDial> dial_exit(const ExitRules& rules, std::string target, std::string visitor);

// --hosts-file: the addresses `file` lists for the normalised `name` (none: ask DNS).
std::vector<policy::DestAddr> hosts_lookup(const std::string& file, const std::string& name);

// The exit's own addresses and their broadcast addresses (cached for 10 s).
std::vector<policy::Ip> own_addresses();

// porthole_exit_connections_total; porthole_exit_refused_total{reason=code}.
void count_exit_connected();
void count_exit_refused(const std::string& code);

}  // namespace porthole::egress
