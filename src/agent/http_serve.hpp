// The http tunnel's exchange over any ByteStream standing for the relay's side: a mux stream
// for a visitor's request (serve_http), or an in-memory stream for a replay (agent/replay.cpp),
// so a replay takes exactly the path a visitor's request takes to the local service.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "agent/tunnel.hpp"
#include "inspect/exchange.hpp"
#include "net/http_io.hpp"

namespace porthole::agent {

// How the relay's side is told that the exchange failed (a mux RESET carrying the code).
using ResetFn = std::function<void(Error)>;

// Reads one request from `stream`, forwards it to the tunnel's local service, streams the
// response back; captures it when the tunnel has a recorder (`replay_of` marks a replay).
// `meta` is the stream's OPEN metadata (the visitor, for --upstream-proxy-protocol; a replay
// has no visitor, so its PROXY header is v1 UNKNOWN / v2 LOCAL).
net::Task<void> serve_http_on(net::ByteStream& stream, const ResetFn& reset, TunnelState& tunnel,
                              const proto::OpenMeta& meta, std::string_view replay_of);

// The parts serve_http_on is made of, for a loop of requests on one connection (the TLS the
// agent terminates itself, https_at_agent.cpp).
//
// How a response goes out: with the stream's FIN (one exchange per mux stream: the relay frames
// the visitor's connection), or left open for the next request; `on_head` edits each response
// head (interim ones too) before it is written.
struct ExchangeShape {
  bool fin = true;
  std::function<void(proto::http1::ResponseHead&)> on_head = {};
};
struct ForwardResult {
  bool complete = false;   // the whole response went out
  bool responded = false;  // a response head went out (else `reset` was told why)
  bool keep = false;       // complete, the request read whole, the response framed: the connection can go on
};
// Forwards `head` (already read from `rd`, whose body follows) to the tunnel's local service over
// its pool (one retry on a fresh connection when a pooled one failed first) and writes the
// response to `stream`.
net::Task<ForwardResult> forward_exchange(net::ByteStream& stream, const ResetFn& reset, net::MessageReader& rd,
                                          proto::http1::RequestHead& head, TunnelState& tunnel,
                                          const proto::OpenMeta& meta, inspect::Exchange* capture, std::size_t limit,
                                          const ExchangeShape& shape);
// --host-header for the local service.
void apply_host_header(proto::http1::RequestHead& head, const config::TunnelConfig& c);
// A capture of this request when the tunnel records (before any change for the service), and
// the end of an exchange: the tunnel's timing metrics, and the capture handed to the recorder.
std::optional<inspect::Exchange> begin_capture(const TunnelState& tunnel, const proto::http1::RequestHead& head,
                                               const proto::OpenMeta& meta, std::string_view replay_of);
void end_exchange(TunnelState& tunnel, std::optional<inspect::Exchange>& capture,
                  std::chrono::steady_clock::time_point started);
std::size_t capture_limit(const TunnelState& tunnel);

}  // namespace porthole::agent
