// Active health checks of a tunnel's local service (--health-check): for http a GET of a path
// (2xx and 3xx are healthy), for tcp a connect. The agent runs one every kHealthInterval and
// tells the relay when the result changes; pools skip members whose check fails.
#pragma once

#include <chrono>

#include "config/model.hpp"
#include "net/asio.hpp"

namespace porthole::agent {

inline constexpr auto kHealthInterval = std::chrono::seconds(2);  // HAProxy's default `inter`
inline constexpr auto kHealthTimeout = std::chrono::seconds(2);

// Ok, or why the check failed ("GET /healthz: 503 Service Unavailable", "connection refused").
net::Task<Result<void>> check_health(const config::TunnelConfig& tunnel);

}  // namespace porthole::agent
