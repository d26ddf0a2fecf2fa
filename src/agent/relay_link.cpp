#include "agent/relay_link.hpp"

#include <unistd.h>

#include "core/encoding.hpp"
#include "net/tcp_stream.hpp"
#include "proto/auth.hpp"

namespace porthole::agent {

net::RelayTrust relay_trust(const config::AgentConfig& cfg) {
  net::RelayTrust t;
  t.relay_address = cfg.relay;
  t.fingerprint = cfg.relay_fingerprint;
  t.ca_file = cfg.relay_ca;
  return t;
}

std::string no_relay_help() {
  return "no relay configured. Give one with --relay HOST:PORT (or PORTHOLE_RELAY, or `relay` in "
         "porthole.toml) and a token with --token (or PORTHOLE_TOKEN).\n"
         "  - run your own on a public machine:  porthole relay --token SECRET\n"
         "  - or try everything locally first:    porthole demo";
}

net::Task<Result<RelayLink>> dial_relay(const config::AgentConfig& cfg, net::asio::ssl::context& ctx) {
  auto addr = parse_host_port(cfg.relay, "", false);
  if (!addr) co_return make_error("--relay: {}", addr.error().message);
  auto sock = co_await net::dial(addr->host, addr->port, std::chrono::seconds(10));
  if (!sock) co_return make_error("relay {}: {}", cfg.relay, sock.error().message);
  auto tls = std::make_unique<net::TlsSocket>(std::move(*sock), ctx.native_handle(), net::TlsSocket::Side::client);
  const auto trust = relay_trust(cfg);
  if (auto r = net::prepare_client_ssl(tls->ssl(), trust); !r) co_return r.error();
  if (auto r = co_await tls->handshake(std::chrono::seconds(10)); !r) {
    co_return make_error("relay {}: {}", cfg.relay, r.error().message);
  }
  if (auto r = net::verify_relay_certificate(tls->ssl(), trust); !r) co_return r.error();
  auto binding = net::channel_binding(tls->ssl());
  if (!binding) co_return binding.error();
  RelayLink link;
  link.tls = std::move(tls);
  link.hello.agent = cfg.name;
  if (link.hello.agent.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) link.hello.agent = host;
  }
  link.hello.relay_host = addr->host;
  link.hello.token_id = proto::token_id(cfg.token);
  link.hello.proof = encoding::hex_encode(proto::auth_proof(proto::token_key(cfg.token), *binding));
  co_return std::move(link);
}

}  // namespace porthole::agent
