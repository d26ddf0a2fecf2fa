// Refuses public tcp tunnels for sensitive services (policy/sensitive.hpp) unless the tunnel
// has an IP allow rule or allow_public: by the local port, and by the process listening on it
// where `porthole ports` can tell.
#pragma once

#include "config/model.hpp"
#include "core/result.hpp"

namespace porthole::app {

Result<void> check_sensitive_tunnels(const config::AgentConfig& cfg);

}  // namespace porthole::app
