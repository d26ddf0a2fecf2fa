// The relay: accepts agents over TLS, authenticates them, and exposes their tunnels as public
// endpoints. One io_context; everything below runs on its thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include <boost/asio/ssl/context.hpp>

#include "config/model.hpp"
#include "net/asio.hpp"
#include "net/tls_context.hpp"
#include "relay/store.hpp"

namespace porthole::relay {

class AgentConn;
class TcpEndpoint;

struct AgentInfo {
  std::string id, name, token_name, address;
  std::size_t streams = 0;
  std::int64_t rtt_us = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

struct EndpointInfo {
  std::string key, tunnel, token_name, public_url, agent_id;
  std::uint16_t port = 0;
  std::uint64_t visitors_total = 0;
  std::size_t visitors_open = 0;
};

class Relay {
 public:
  Relay(net::asio::io_context& io, config::RelayConfig cfg, std::unique_ptr<Store> store,
        net::ServerIdentity identity);
  ~Relay();

  // Binds the agent listener; fails with a message naming the address.
  Result<void> start();
  // Stops accepting, asks agents to go away, lets open streams finish within the grace
  // period, then closes everything and calls `done`.
  void shutdown(std::function<void()> done);

  std::uint16_t agent_port() const;
  const config::RelayConfig& config() const { return cfg_; }
  const net::ServerIdentity& identity() const { return identity_; }
  Store& store() { return *store_; }

  std::vector<AgentInfo> agents() const;
  std::vector<EndpointInfo> endpoints() const;
  bool kick(std::string_view agent_id);
  // Keeps `companion` (the admin API server) alive exactly as long as the relay.
  void keep(std::shared_ptr<void> companion) { companions_.push_back(std::move(companion)); }

 private:
  friend class AgentConn;
  struct PendingCounts;

  net::Task<void> accept_loop();
  net::Task<void> handshake(net::tcp::socket socket);
  // Called by AgentConn.
  void on_authenticated(const std::shared_ptr<AgentConn>& conn);
  void on_closed(AgentConn* conn);
  Result<std::string> bind_tcp(const std::shared_ptr<AgentConn>& conn, const std::string& tunnel,
                               std::optional<std::uint16_t> asked);
  void unbind(AgentConn* conn, const std::string& tunnel);
  bool port_usable(std::uint16_t port, const std::string& token_name, const std::string& tunnel) const;

  net::asio::io_context& io_;
  config::RelayConfig cfg_;
  std::unique_ptr<Store> store_;
  net::ServerIdentity identity_;
  std::shared_ptr<net::asio::ssl::context> tls_ctx_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::string public_host_;  // where endpoints listen (the host of --agents)
  std::unique_ptr<PendingCounts> pending_;
  std::unordered_map<std::string, std::shared_ptr<AgentConn>> conns_;  // by session id
  std::map<std::string, std::shared_ptr<TcpEndpoint>> endpoints_;     // by "token/tunnel"
  bool stopping_ = false;
  std::vector<std::shared_ptr<void>> companions_;  // last member: destroyed first
};

}  // namespace porthole::relay
