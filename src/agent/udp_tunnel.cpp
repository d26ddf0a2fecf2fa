// Tunnel kind "udp": each stream is one visitor's flow. Datagrams from the relay (DATAGRAM
// frames) go to the local service through a socket of the flow's own (so the service sees one
// stable source port per visitor), its replies go back as datagrams. Nothing queues: a datagram
// a socket or the session cannot take now is dropped and counted. The flow ends when the relay
// resets the stream (idle, evicted) or the session ends. With --upstream-proxy-protocol 2 every
// datagram to the service starts with a PROXY v2 header (DGRAM) naming the visitor: the same
// bytes for the whole flow, built once (docs/proxy-protocol.md).
#include <spdlog/spdlog.h>

#include <array>

#include "agent/tunnel.hpp"
#include "agent/upstream_proxy.hpp"
#include "core/metrics.hpp"

namespace porthole::agent {

namespace {

namespace asio = net::asio;
using net::udp;

struct UdpTunnelStats {
  metrics::Counter& to_local = metrics::counter("porthole_agent_udp_datagrams_total{dir=\"to_local\"}",
                                                "Datagrams of udp tunnels");
  metrics::Counter& from_local = metrics::counter("porthole_agent_udp_datagrams_total{dir=\"from_local\"}",
                                                  "Datagrams of udp tunnels");
  metrics::Counter& local_busy = metrics::counter("porthole_agent_udp_dropped_total{reason=\"local_busy\"}",
                                                  "Datagrams of udp tunnels dropped, by reason");
  metrics::Counter& local_errors = metrics::counter("porthole_agent_udp_local_errors_total",
                                                    "ICMP errors from the local UDP service (port unreachable...)");
};
UdpTunnelStats& stats() {
  static UdpTunnelStats s;
  return s;
}

// Local service → relay, until the socket closes.
net::Task<void> replies(std::shared_ptr<udp::socket> sock, std::shared_ptr<session::MuxStream> stream) {
  std::vector<std::uint8_t> buf(65536);
  for (;;) {
    auto [ec] = co_await sock->async_wait(udp::socket::wait_read, net::use_nothrow);
    if (ec || !sock->is_open()) co_return;
    for (int i = 0; i < 64; ++i) {
      net::error_code rec;
      const auto n = sock->receive(asio::buffer(buf), 0, rec);
      if (rec == asio::error::connection_refused) {
        stats().local_errors.inc();
        continue;
      }
      if (rec) break;
      stats().from_local.inc();
      (void)stream->send_datagram(std::span(buf.data(), n));  // counted by the session when dropped
    }
  }
}

}  // namespace

net::Task<void> serve_udp(std::shared_ptr<session::MuxStream> stream, TunnelState& t, proto::OpenMeta meta) {
  const auto& local = t.config.local;
  auto ex = co_await asio::this_coro::executor;
  udp::resolver resolver(ex);
  auto [rec, results] = co_await resolver.async_resolve(local.host, std::to_string(local.port), net::use_nothrow);
  if (rec || results.empty()) {
    count_dial_failure();
    stream->reset(make_error(Errc::refused, "cannot resolve {}: {}", local.host, rec ? rec.message() : "no address"));
    co_return;
  }
  auto sock = std::make_shared<udp::socket>(ex);
  const auto target = results.begin()->endpoint();
  net::error_code ec;
  sock->open(target.protocol(), ec);
  if (!ec) sock->non_blocking(true, ec);
  if (!ec) sock->connect(target, ec);
  net::error_code bec;  // a window of replies in flight fits (best effort; net.core.rmem_max caps it)
  sock->set_option(asio::socket_base::receive_buffer_size(512 * 1024), bec);
  if (ec) {
    count_dial_failure();
    stream->reset(make_error(Errc::refused, "cannot open a UDP socket to {}: {}", format_host_port(local), ec.message()));
    co_return;
  }
  ++t.connections_total;
  ++t.connections_open;
  asio::co_spawn(ex, replies(sock, stream), asio::detached);
  const std::string header = t.config.upstream_proxy_protocol == 2
                                 ? upstream_proxy_header(2, meta, proto::pp::Transport::dgram)
                                 : std::string();
  for (;;) {
    auto d = co_await stream->read_datagram();
    if (!d || !*d) break;  // reset (idle, evicted), FIN or the session ended
    const std::array<asio::const_buffer, 2> parts{asio::buffer(header), asio::buffer(**d)};
    net::error_code sec;
    sock->send(parts, 0, sec);
    if (sec == asio::error::connection_refused) {
      stats().local_errors.inc();
      sock->send(parts, 0, sec);  // the error was an earlier datagram's; this one goes
    }
    if (sec) {
      stats().local_busy.inc();
    } else {
      stats().to_local.inc();
    }
  }
  --t.connections_open;
  net::error_code cec;
  sock->close(cec);  // ends replies()
  spdlog::debug("tunnel {}: udp flow {} done", t.config.name, stream->id());
}

}  // namespace porthole::agent
