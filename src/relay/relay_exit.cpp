#include "relay/relay_exit.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "egress/exit_dial.hpp"
#include "egress/exit_udp.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "relay/scopes.hpp"

namespace porthole::relay {

namespace asio = net::asio;

namespace {

metrics::Gauge& open_gauge() {
  static auto& g = metrics::gauge("porthole_relay_exit_open", "streams open now through the relay's own exit");
  return g;
}

metrics::Counter& scope_refusals() {
  static auto& c = metrics::counter("porthole_relay_connects_total{result=\"forbidden\"}",
                                    "porthole connect streams to private endpoints, by result");
  return c;
}

net::Task<void> serve(std::shared_ptr<session::MuxStream> stream, egress::ExitRules rules, std::string target,
                      std::string client) {
  auto d = co_await egress::dial_exit(rules, target, client);
  if (d.error) {
    stream->reset(std::move(*d.error));
    co_return;
  }
  spdlog::debug("exit relay: {} -> {} ({})", client, target, d.endpoint);
  net::TcpStream conn(std::move(*d.socket));
  static constexpr std::uint8_t kConnected[1] = {0x00};
  auto w = co_await stream->write(kConnected);
  if (!w) co_return;
  open_gauge().add(1);
  auto r = co_await net::pump(*stream, conn);
  open_gauge().add(-1);
  spdlog::debug("exit relay: {} -> {} done: {} bytes out, {} back {}", client, target, r.a_to_b, r.b_to_a, r.error);
}

}  // namespace

net::Task<void> serve_udp(std::shared_ptr<session::MuxStream> stream, egress::ExitRules rules, std::string client) {
  open_gauge().add(1);
  co_await egress::serve_udp_exit(std::move(stream), rules, client);
  open_gauge().add(-1);
}

void join_relay_exit(const config::RelayConfig& cfg, const TokenRecord& token, const std::string& client,
                     std::shared_ptr<session::MuxStream> stream, std::string_view target, std::string_view transport) {
  if (!exit_allowed(token.scopes, kRelayExitName, false)) {
    scope_refusals().inc();
    spdlog::warn("socks from {} (token {}) through the relay's exit refused: the token may not use it (allow-exit: {})",
                 client, token.name, token.scopes.allow_exit.empty() ? "its own exits only" : token.scopes.allow_exit);
    return stream->reset(make_error(Errc::forbidden,
                                    "this token may not use the relay's exit (ask the relay's operator for "
                                    "`porthole token create ... --allow-exit relay`)"));
  }
  if (cfg.exit_allow_dest.empty()) {
    egress::count_exit_refused("not_allowed");
    spdlog::warn("exit relay: refused {} for {} (token {}): this relay allows no exit destinations", target, client,
                 token.name);
    return stream->reset(make_error(Errc::forbidden,
                                    "this relay allows no exit destinations (its relay.toml has no [exit] allow_dest)"));
  }
  egress::ExitRules rules;
  rules.exit_name = std::string(kRelayExitName);
  rules.allow_dest = cfg.exit_allow_dest;
  rules.hosts_file = cfg.exit_hosts_file;
  rules.hint = "[exit] allow_dest";
  auto ex = stream->session().transport().socket().get_executor();
  if (transport == "udp") {  // a SOCKS5 UDP association: every datagram checked (egress/exit_udp.hpp)
    asio::co_spawn(
        ex,
        [s = std::move(stream), r = std::move(rules), c = fmt::format("{} (token {})", client, token.name)]() mutable {
          return serve_udp(std::move(s), std::move(r), std::move(c));
        },
        asio::detached);
    return;
  }
  if (target.size() > 300) return stream->reset(make_error(Errc::protocol, "exit target too long"));
  asio::co_spawn(
      ex,
      [s = std::move(stream), r = std::move(rules), t = std::string(target),
       c = fmt::format("{} (token {})", client, token.name)]() mutable {
        return serve(std::move(s), std::move(r), std::move(t), std::move(c));
      },
      asio::detached);
}

}  // namespace porthole::relay
