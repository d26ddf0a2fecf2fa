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
#include "relay/listen_port.hpp"
#include "relay/registry.hpp"
#include "relay/store.hpp"

namespace porthole::net {
class ByteStream;
}
namespace porthole::acme {
class Http01Board;
}

namespace porthole::relay {


// What the listener that accepted a visitor connection knows of it (plain HTTP, or HTTP inside
// TLS that the https listener terminated).
struct VisitorConn {
  std::string scheme = "http";  // X-Forwarded-Proto / Forwarded proto=
  std::string sni;              // terminated TLS: the server name; a request for another Host is 421
  std::string client_subject;   // mTLS: the verified client certificate's subject ("" none)
  std::string ip;    // the visitor's IP when a PROXY header gave it ("" = from the address)
  std::string dest;  // HOST:PORT the visitor connected to (for PROXY headers towards the service)
};

// The header that carries VisitorConn::client_subject to the local service; removed from every
// visitor request first, so it cannot be forged.
inline constexpr const char* kClientSubjectHeader = "X-Client-Cert-Subject";

class HttpListener : public std::enable_shared_from_this<HttpListener> {
 public:
  HttpListener(net::asio::io_context& io, const config::RelayConfig& cfg, Store& store, EndpointRegistry& registry);
  ~HttpListener();

  Result<void> start(const std::string& address);
  // One accepted visitor connection (ListenPort calls it).
  net::Task<void> serve(net::tcp::socket socket, net::tcp::endpoint peer);
  void stop();
  std::uint16_t port() const;
  // The https listener's port, for --redirect-https (0: no https listener, no redirect).
  void set_https_port(std::uint16_t p) { https_port_ = p; }

  // Serves one visitor connection: every request on it, routed by its own Host. The https
  // listener calls this with the decrypted stream (the same pipeline, reused).
  net::Task<void> serve_stream(net::ByteStream& vs, std::string visitor_addr, VisitorConn conn);
  // ACME HTTP-01: requests for a pending token are answered from `board` before routing.
  void set_acme_board(const acme::Http01Board* board) { acme_board_ = board; }

 private:
  struct Visitor;
  bool admit(Visitor& v);  // false: over the per-IP cap with nothing idle to close
  void leave(Visitor& v);

  net::asio::io_context& io_;
  const config::RelayConfig& cfg_;
  Store& store_;
  EndpointRegistry& registry_;
  policy::CidrSet trusted_;
  ListenPort listen_;
  std::unordered_map<std::string, std::list<Visitor*>> by_ip_;  // oldest first
  std::uint16_t https_port_ = 0;
  const acme::Http01Board* acme_board_ = nullptr;
};

}  // namespace porthole::relay
