// Replaying a captured request (the agent API's POST /api/requests/http): the request's bytes
// go through serve_http_on() — the code a visitor's request takes on the agent — with an
// in-memory stream in place of the relay's mux stream. So the replay meets the same Host
// rewrite, pool, upstream TLS and capture as the original; it does not go through the relay
// again (the relay's policy — basic auth, IP rules, webhook verification — already let the
// original in, and a replay is the developer's own request to their own service).
#pragma once

#include <memory>
#include <string>

#include "agent/tunnel.hpp"

namespace porthole::agent {

// The response's status code, or why there was none (Errc::refused: the service is down...).
net::Task<Result<int>> replay_http(std::shared_ptr<TunnelState> tunnel, std::string request, std::string replay_of);

}  // namespace porthole::agent
