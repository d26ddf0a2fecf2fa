#include "app/relay_runner.hpp"

#include <iostream>

#include <spdlog/spdlog.h>

#include "app/serve.hpp"
#include "core/address.hpp"
#include "core/encoding.hpp"
#include "relay/cert_store.hpp"
#include "relay/admin.hpp"

namespace porthole::app {

Result<std::unique_ptr<relay::Relay>> make_relay(net::asio::io_context& io, const config::RelayConfig& cfg,
                                                 std::ostream& out) {
  auto store = relay::Store::open(cfg.data_dir);
  if (!store) return store.error();
  for (const auto& t : cfg.tokens) {
    if (auto r = (*store)->add_static_token(t); !r) return make_error("token: {}", r.error().message);
  }
  auto identity = net::ensure_server_identity(cfg.data_dir, cfg.cert_file, cfg.key_file);
  if (!identity) return identity.error();
  if (identity->created) spdlog::info("created a self-signed certificate in {}", cfg.data_dir);
  auto relay = std::make_unique<relay::Relay>(io, cfg, std::move(*store), *identity);
  if (auto r = relay->start(); !r) return r.error();
  auto admin = relay::AdminServer::start(io, *relay, cfg.admin);
  if (!admin) return make_error("--admin: {}", admin.error().message);
  const auto admin_url = (*admin)->url();
  relay->keep(std::shared_ptr<relay::AdminServer>(std::move(*admin)));
  if (relay->store().list_tokens().empty()) {
    spdlog::warn("no tokens: no agent can connect. Add --token SECRET or run `porthole token create NAME`");
  }
  auto host = parse_host_port(cfg.agents, "0.0.0.0", true);
  // What visitors use: --domain, else the address agents are told to dial (when it is one).
  auto public_host = cfg.domain;
  if (public_host == "localhost") public_host = host->host == "0.0.0.0" || host->host == "::" ? "" : host->host;
  if (public_host.empty()) public_host = "<relay address>";
  out << "Relay listening for agents on " << format_host_port(host->host, relay->agent_port()) << " (TLS 1.3)\n"
      << "Relay certificate fingerprint SHA256:" << identity->fingerprint << "\n"
      << "Public endpoints: tcp://" << public_host << ":" << cfg.tcp_ports.lo << "-" << cfg.tcp_ports.hi
      << (public_host == "<relay address>" ? "  (the address each agent dials; set --domain to name it)" : "")
      << "\n";
  if (relay->http_port() != 0) {
    auto http = parse_host_port(cfg.http, "0.0.0.0", true);
    out << "Relay listening for HTTP visitors on " << format_host_port(http->host, relay->http_port()) << "\n"
        << "HTTP endpoints: http://*." << cfg.domain << (relay->http_port() == 80 ? "" : ":" + std::to_string(relay->http_port()))
        << (cfg.domain == "localhost" ? "  (names under localhost work on this machine only: set --domain so others can use them)"
                                      : "")
        << "\n";
  }
  if (relay->https_port() != 0) {
    auto https = parse_host_port(cfg.https, "0.0.0.0", true);
    const auto& ca = relay->certs()->ca();
    out << "Relay listening for HTTPS visitors on " << format_host_port(https->host, relay->https_port()) << "\n"
        << "HTTPS CA for *." << cfg.domain << " (" << ca.cert_file() << ") fingerprint SHA256:" << ca.fingerprint()
        << "\n  trust it with: curl --cacert " << ca.cert_file() << "  (or `porthole relay ca` > ca.pem)\n";
  }
  out
      << "Admin API on " << admin_url << std::endl;
  return relay;
}

int run_relay(config::RelayConfig cfg) {
  net::asio::io_context io(1);
  auto relay = make_relay(io, cfg, std::cout);
  if (!relay) {
    std::cerr << "porthole relay: " << relay.error().message << "\n";
    return 1;
  }
  return serve_until_signal(io, [&](std::function<void(int)> done) {
    (*relay)->shutdown([done] { done(0); });
  });
}

}  // namespace porthole::app
