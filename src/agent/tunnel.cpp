#include "agent/tunnel.hpp"

#include <spdlog/spdlog.h>

#include "agent/upstream_proxy.hpp"

#include "core/metrics.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "net/unix_socket.hpp"

namespace porthole::agent {

namespace {
constexpr TunnelKind kTunnelKinds[] = {
    {"tcp", serve_tcp},
    {"http", serve_http},
    {"udp", serve_udp},
    {"tls", serve_tcp},  // passthrough: the visitor's TLS bytes as they came, pumped to the local TLS service
    {"exit", serve_exit},  // porthole exit: to the destination in the OPEN, after the allow-list check
};

}  // namespace

void count_dial_failure() {
  static auto& c = metrics::counter("porthole_agent_local_dial_failures_total",
                                    "Streams reset because the local service could not be reached");
  c.inc();
}

const TunnelKind* find_tunnel_kind(std::string_view proto) {
  for (const auto& k : kTunnelKinds) {
    if (k.proto == proto) return &k;
  }
  return nullptr;
}

net::Task<void> serve_tcp(std::shared_ptr<session::MuxStream> stream, TunnelState& t, proto::OpenMeta meta) {
  const auto& local = t.config.local;
  auto sock = co_await net::dial_local(local, std::chrono::seconds(5));  // HOST:PORT or unix:/path
  if (!sock) {
    count_dial_failure();
    spdlog::warn("tunnel {}: {}", t.config.name, sock.error().message);
    stream->reset(sock.error());
    co_return;
  }
  ++t.connections_total;
  ++t.connections_open;
  net::TcpStream conn(std::move(*sock));
  // --upstream-proxy-protocol: the header goes first, in one write (spec: "sent at once").
  if (const auto header = upstream_proxy_header(t.config.upstream_proxy_protocol, meta); !header.empty()) {
    auto w = co_await conn.write(net::bytes_of(header));
    if (!w) {
      --t.connections_open;
      stream->reset(make_error(Errc::refused, "{}: {}", format_host_port(local), w.error().message));
      co_return;
    }
  }
  auto r = co_await net::pump(*stream, conn);
  --t.connections_open;
  spdlog::debug("tunnel {}: stream {} done: {} bytes in, {} out {}", t.config.name, stream->id(), r.a_to_b, r.b_to_a,
                r.error);
}

}  // namespace porthole::agent
