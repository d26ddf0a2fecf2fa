// The http tunnel's exchange over any ByteStream standing for the relay's side: a mux stream
// for a visitor's request (serve_http), or an in-memory stream for a replay (agent/replay.cpp),
// so a replay takes exactly the path a visitor's request takes to the local service.
#pragma once

#include <functional>
#include <string_view>

#include "agent/tunnel.hpp"

namespace porthole::agent {

// How the relay's side is told that the exchange failed (a mux RESET carrying the code).
using ResetFn = std::function<void(Error)>;

// Reads one request from `stream`, forwards it to the tunnel's local service, streams the
// response back; captures it when the tunnel has a recorder (`replay_of` marks a replay).
// `meta` is the stream's OPEN metadata (the visitor, for --upstream-proxy-protocol; a replay
// has no visitor, so its PROXY header is v1 UNKNOWN / v2 LOCAL).
net::Task<void> serve_http_on(net::ByteStream& stream, const ResetFn& reset, TunnelState& tunnel,
                              const proto::OpenMeta& meta, std::string_view replay_of);

}  // namespace porthole::agent
