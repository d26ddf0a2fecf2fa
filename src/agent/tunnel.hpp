// A tunnel on the agent side and the table of tunnel kinds: how a stream the relay opens for a
// tunnel is served. Adding a kind is one file (its serve function) plus one line in
// kTunnelKinds (tunnel.cpp).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "agent/local_pool.hpp"
#include "config/model.hpp"
#include "inspect/stats.hpp"
#include "proto/messages.hpp"
#include "session/session.hpp"

namespace porthole::inspect {
class Recorder;
}

namespace porthole::agent {

struct TunnelState {
  config::TunnelConfig config;
  std::string public_url;  // empty until the relay bound it
  std::string error;       // the relay's last refusal
  std::uint64_t connections_total = 0;
  std::size_t connections_open = 0;
  std::shared_ptr<LocalPool> pool;  // keep-alive connections to the local service (http)
  inspect::TunnelStats stats;                   // the agent API's metrics (inspect/stats.hpp)
  std::shared_ptr<inspect::Recorder> recorder;  // captures http exchanges; null: --inspect off
  std::shared_ptr<SSL_CTX> edge_tls;            // --terminate-at agent: the visitors' TLS (--cert/--key)
};

// Readies what a tunnel needs before it is served (the --terminate-at agent certificate); the
// error names the tunnel and the file.
Result<void> prepare_tunnel(TunnelState& tunnel);

// Serves one stream; the tunnel outlives it (the agent holds a shared_ptr to the TunnelState
// while the stream is served, so removing a tunnel at run time cannot leave it dangling).
// `meta` is the stream's OPEN metadata: who the visitor is (for --upstream-proxy-protocol).
using ServeFn = net::Task<void> (*)(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel,
                                    proto::OpenMeta meta);

struct TunnelKind {
  std::string_view proto;
  ServeFn serve;
};

const TunnelKind* find_tunnel_kind(std::string_view proto);

// Counts a stream reset because the local service could not be reached.
void count_dial_failure();

// The kinds (one file each).
net::Task<void> serve_tcp(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel, proto::OpenMeta meta);
net::Task<void> serve_http(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel, proto::OpenMeta meta);
// http with --terminate-at agent: the visitor's TLS ends here (https_at_agent.cpp).
net::Task<void> serve_https_at_agent(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel,
                                     proto::OpenMeta meta);
net::Task<void> serve_exit(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel, proto::OpenMeta meta);  // exit_tunnel.cpp
net::Task<void> serve_udp(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel, proto::OpenMeta meta);  // udp_tunnel.cpp

}  // namespace porthole::agent
