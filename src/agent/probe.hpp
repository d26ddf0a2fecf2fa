// Asks the relay to connect back to this machine's public address (the "port check tool").
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/model.hpp"
#include "core/result.hpp"

namespace porthole::agent {

struct ProbeResult {
  std::string observed_ip;  // this machine's address as the relay sees it
  bool reachable = false;   // the relay's TCP connect to observed_ip:port succeeded
  std::string detail;       // e.g. "connection refused", "timed out after 3s"
};

// Dials the relay named in `cfg` (TLS, same trust rules as the agent), authenticates with
// cfg.token and asks it to dial back observed_ip:port. Fails when the relay is unreachable
// or rejects the token.
Result<ProbeResult> probe_via_relay(const config::AgentConfig& cfg, std::uint16_t port,
                                    std::chrono::seconds timeout);

}  // namespace porthole::agent
