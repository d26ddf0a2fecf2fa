// The tunnel kind "exit" (`porthole exit NAME --allow-dest ...`): each stream's OPEN carries
// the destination (`target`, HOST:PORT). The check and the connection are egress/exit_dial.hpp
// (the relay's own exit runs the same): resolve, check every address with the allow-list,
// connect to exactly the addresses that passed. Then one byte 0x00 says "connected" and the
// stream is pumped. A refusal resets the stream with `forbidden` and its reason (docs/socks.md).
#include <spdlog/spdlog.h>

#include "agent/tunnel.hpp"
#include "egress/exit_dial.hpp"
#include "egress/exit_udp.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"

namespace porthole::agent {

net::Task<void> serve_exit(std::shared_ptr<session::MuxStream> stream, TunnelState& t, proto::OpenMeta meta) {
  egress::ExitRules rules;
  rules.exit_name = t.config.private_name.empty() ? t.config.name : t.config.private_name;
  rules.allow_dest = t.config.allow_dest;
  rules.hosts_file = t.config.hosts_file;
  if (meta.transport == "udp") {  // a SOCKS5 UDP association (egress/exit_udp.cpp)
    ++t.connections_open;
    auto served = co_await egress::serve_udp_exit(std::move(stream), rules, meta.visitor);
    --t.connections_open;
    if (served) ++t.connections_total;
    co_return;
  }
  auto d = co_await egress::dial_exit(rules, meta.target, meta.visitor);
  if (d.error) {
    if (d.connect_failed) count_dial_failure();
    stream->reset(std::move(*d.error));
    co_return;
  }
  const auto& name = rules.exit_name;
  ++t.connections_total;
  ++t.connections_open;
  spdlog::debug("exit {}: {} -> {} ({})", name, meta.visitor, meta.target, d.endpoint);
  net::TcpStream conn(std::move(*d.socket));
  static constexpr std::uint8_t kConnected[1] = {0x00};
  auto w = co_await stream->write(kConnected);
  if (!w) {
    --t.connections_open;
    co_return;
  }
  auto r = co_await net::pump(*stream, conn);
  --t.connections_open;
  spdlog::debug("exit {}: stream {} done: {} bytes out, {} back {}", name, stream->id(), r.a_to_b, r.b_to_a, r.error);
}

}  // namespace porthole::agent
