#include "config/diff.hpp"

namespace porthole::config {

namespace {

const TunnelConfig* find_by_name(const std::vector<TunnelConfig>& tunnels, const std::string& name) {
  for (const auto& t : tunnels) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

}  // namespace

bool same_tunnel(const TunnelConfig& a, const TunnelConfig& b) {
  return a.name == b.name && a.proto == b.proto && a.local == b.local && a.remote_port == b.remote_port &&
         a.policy == b.policy && a.private_name == b.private_name && a.allow_dest == b.allow_dest &&
         a.hosts_file == b.hosts_file;
}

TunnelDiff diff(const AgentConfig& old_config, const AgentConfig& new_config) {
  TunnelDiff d;
  for (const auto& t : new_config.tunnels) {
    const TunnelConfig* before = find_by_name(old_config.tunnels, t.name);
    if (before == nullptr) {
      d.added.push_back(t);
    } else if (!same_tunnel(*before, t)) {
      d.changed.push_back(t);
    }
  }
  for (const auto& t : old_config.tunnels) {
    if (find_by_name(new_config.tunnels, t.name) == nullptr) d.removed.push_back(t);
  }
  d.session_changed = old_config.relay != new_config.relay || old_config.token != new_config.token ||
                      old_config.relay_fingerprint != new_config.relay_fingerprint ||
                      old_config.relay_ca != new_config.relay_ca || old_config.name != new_config.name;
  return d;
}

}  // namespace porthole::config
