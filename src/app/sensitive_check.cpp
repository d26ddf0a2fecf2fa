#include "app/sensitive_check.hpp"

#include "config/policy_file.hpp"
#include "diag/ports.hpp"
#include "policy/sensitive.hpp"

namespace porthole::app {

namespace {

// The names of the processes listening on TCP `port` here ("" when none can be seen).
std::string listener_process(std::uint16_t port, const std::vector<diag::PortEntry>& entries) {
  for (const auto& e : entries) {
    if (e.sock.proto != diag::Proto::tcp || e.sock.local_port != port) continue;
    for (const auto& o : e.owners) {
      if (policy::sensitive_process(o.name)) return o.name;
    }
    if (!e.owners.empty()) return e.owners.front().name;
  }
  return {};
}

bool has_ip_allow(const config::TunnelConfig& t) {
  if (t.policy.empty()) return false;
  auto p = config::parse_policy(t.policy, "policy");
  return p && (*p)->has_ip_allow_rule();
}

}  // namespace

Result<void> check_sensitive_tunnels(const config::AgentConfig& cfg) {
  std::optional<std::vector<diag::PortEntry>> ports;
  std::string errors;
  for (const auto& t : cfg.tunnels) {
    if (t.proto != "tcp" || t.allow_public || has_ip_allow(t)) continue;
    // A unix socket has no port to judge and `porthole ports` lists TCP/UDP listeners only:
    // nothing is known about what serves it, so it is not refused (docs/private.md).
    if (is_unix_address(t.local)) continue;
    if (!ports) {
      auto listed = diag::list_ports(diag::ListOptions{});
      ports = listed ? std::move(*listed) : std::vector<diag::PortEntry>{};
    }
    const auto process = listener_process(t.local.port, *ports);
    auto service = policy::sensitive_process(process);
    if (!service) service = policy::sensitive_port(t.local.port);
    if (!service) continue;
    errors += fmt::format("{}{}", errors.empty() ? "" : "\n", policy::sensitive_refusal(t.name, t.local.port, *service, process));
  }
  if (!errors.empty()) return make_error("{}", errors);
  return {};
}

}  // namespace porthole::app
