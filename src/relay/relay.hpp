// The relay: accepts agents over TLS, authenticates them, and exposes their tunnels as public
// endpoints of the kinds in the kind table (endpoint_kinds.hpp), kept in an EndpointRegistry.
// Shared visitor listeners (HTTP) route by the registry's host table. One io_context for now;
// the registry's route table is already safe to read from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/ssl/context.hpp>

#include "acme/manager.hpp"
#include "acme/sink.hpp"
#include "config/model.hpp"
#include "net/asio.hpp"
#include "net/tls_context.hpp"
#include "proto/messages.hpp"
#include "relay/endpoint.hpp"
#include "relay/registry.hpp"
#include "relay/store.hpp"

namespace porthole::relay {

struct PolicyContext;
class AgentConn;
class CertStore;
class HttpListener;
class HttpsListener;

struct AgentInfo {
  std::string id, name, token_name, address;
  std::size_t streams = 0;
  std::int64_t rtt_us = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

class Relay {
 public:
  Relay(net::asio::io_context& io, config::RelayConfig cfg, std::unique_ptr<Store> store,
        net::ServerIdentity identity);
  ~Relay();

  // Binds the agent listener and the HTTP listener; fails with a message naming the flag.
  Result<void> start();
  // Stops accepting, asks agents to go away, lets open streams finish within the grace
  // period, then closes everything and calls `done`.
  void shutdown(std::function<void()> done);

  std::uint16_t agent_port() const;
  std::uint16_t http_port() const;  // 0 when the HTTP listener is off
  std::uint16_t https_port() const;  // 0 when the HTTPS listener is off
  // The https listener's certificates (nullptr when it is off): ACME installs issued
  // certificates and TLS-ALPN-01 challenges here.
  const std::shared_ptr<CertStore>& certs() const { return certs_; }
  const config::RelayConfig& config() const { return cfg_; }
  const net::ServerIdentity& identity() const { return identity_; }
  Store& store() { return *store_; }
  // ACME (docs/acme.md): null when ACME is off.
  acme::AcmeManager* acme() const { return acme_.get(); }
  EndpointRegistry& registry() { return registry_; }

  std::vector<AgentInfo> agents() const;
  std::vector<EndpointInfo> endpoints() const;
  bool kick(std::string_view agent_id);
  // Keeps `companion` (the admin API server) alive exactly as long as the relay.
  void keep(std::shared_ptr<void> companion) { companions_.push_back(std::move(companion)); }

  // For AgentConn: an authenticated agent asks for a tunnel's endpoint; returns its URL.
  Result<std::string> bind(const std::shared_ptr<AgentConn>& conn, const proto::Bind& bind);
  void unbind(AgentConn& conn, const std::string& tunnel);
  void set_health(AgentConn& conn, const proto::Health& health);
  void on_closed(AgentConn& conn);

 private:
  struct PendingCounts;

  Result<void> start_https();
  net::Task<void> accept_loop();
  net::Task<void> handshake(net::tcp::socket socket);
  void drop_members(const session::Session* s, std::string_view tunnel);
  Result<void> start_acme();  // relay_acme.cpp

  net::asio::io_context& io_;
  config::RelayConfig cfg_;
  std::shared_ptr<policy::Policy> relay_policy_;  // operator rules (relay.toml [policy])
  std::shared_ptr<const PolicyContext> policy_ctx_;  // policy fetches, oidc cookie key
  std::unique_ptr<Store> store_;
  net::ServerIdentity identity_;
  std::shared_ptr<net::asio::ssl::context> tls_ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::string listen_host_;  // where endpoints listen (the host of --agents)
  std::unique_ptr<PendingCounts> pending_;
  std::unordered_map<std::string, std::shared_ptr<AgentConn>> conns_;  // by session id
  EndpointRegistry registry_;
  std::shared_ptr<HttpListener> http_;  // also serves HTTP inside terminated TLS (--https)
  std::shared_ptr<CertStore> certs_;
  std::shared_ptr<HttpsListener> https_;
  bool stopping_ = false;
  // Where ACME certificates go (the https listener's store; files only until it exists).
  std::unique_ptr<acme::CertificateSink> cert_sink_;
  std::shared_ptr<acme::AcmeManager> acme_;
  std::vector<std::shared_ptr<void>> companions_;  // last member: destroyed first
};

}  // namespace porthole::relay
