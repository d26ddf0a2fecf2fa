// Reload as a pure function: what changed between two agent configs, tunnels matched by name.
#pragma once

#include <vector>

#include "config/model.hpp"

namespace porthole::config {

struct TunnelDiff {
  std::vector<TunnelConfig> added;    // in the new file only (new file order)
  std::vector<TunnelConfig> removed;  // in the old file only (old file order)
  std::vector<TunnelConfig> changed;  // in both but different; the new version (new file order)
  // Settings of the session itself (relay, token, fingerprint, CA, name) differ: reconnect.
  bool session_changed = false;
  bool empty() const { return added.empty() && removed.empty() && changed.empty() && !session_changed; }
};

// True when two tunnels would behave the same (source_line is ignored).
bool same_tunnel(const TunnelConfig& a, const TunnelConfig& b);

TunnelDiff diff(const AgentConfig& old_config, const AgentConfig& new_config);

}  // namespace porthole::config
