// TEMPORARY: the relay probe lands with the session protocol.
#include "agent/probe.hpp"

namespace porthole::agent {

Result<ProbeResult> probe_via_relay(const config::AgentConfig&, std::uint16_t, std::chrono::seconds) {
  return make_error("relay probe is not available yet");
}

}  // namespace porthole::agent
