// The relay's shared HTTP listener (--http): the visitor pipeline for HTTP.
//   accept → sniff (read and parse the request head) → route (Host → endpoint, from the
//   registry's route table) → policy step → endpoint (forward_exchange through one agent)
// and again for the next request on the connection: every request is routed by its own Host.
// Visitor connections per IP are capped; at the cap the oldest idle one is closed (a flood of
// slow or idle connections cannot lock a client out).
#pragma once

#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "config/model.hpp"
#include "net/asio.hpp"
#include "policy/cidr.hpp"
#include "relay/registry.hpp"
#include "relay/store.hpp"

namespace porthole::net {
class TcpStream;
}
namespace porthole::acme {
class Http01Board;
}

namespace porthole::relay {

class HttpListener : public std::enable_shared_from_this<HttpListener> {
 public:
  HttpListener(net::asio::io_context& io, const config::RelayConfig& cfg, Store& store, EndpointRegistry& registry);
  ~HttpListener();

  Result<void> start(const std::string& address);
  void stop();
  std::uint16_t port() const;
  // ACME HTTP-01: requests for a pending token are answered from `board` before routing.
  void set_acme_board(const acme::Http01Board* board) { acme_board_ = board; }

 private:
  struct Visitor;
  net::Task<void> accept_loop();
  net::Task<void> serve(net::tcp::socket socket, net::tcp::endpoint peer);
  bool admit(Visitor& v);  // false: over the per-IP cap with nothing idle to close
  void leave(Visitor& v);

  net::asio::io_context& io_;
  const config::RelayConfig& cfg_;
  Store& store_;
  EndpointRegistry& registry_;
  policy::CidrSet trusted_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::unordered_map<std::string, std::list<Visitor*>> by_ip_;  // oldest first
  const acme::Http01Board* acme_board_ = nullptr;
};

}  // namespace porthole::relay
