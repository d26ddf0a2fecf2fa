// A public TCP port of the relay. Each visitor connection becomes a stream of the session of
// one of the agents serving the endpoint; bytes are pumped until both sides are done.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/asio.hpp"
#include "relay/endpoint.hpp"

namespace porthole::relay {

class ProxyGate;

class TcpEndpoint final : public Endpoint {
 public:
  TcpEndpoint(std::unique_ptr<net::tcp::acceptor> acceptor, std::string token, std::string public_url,
              std::shared_ptr<const ProxyGate> proxy_gate);
  ~TcpEndpoint() override;

  void start();
  void stop() override;  // closes the listener; visitors already connected go on
  std::uint16_t port() const override { return port_; }

 private:
  net::Task<void> accept_loop();
  net::Task<void> serve(net::tcp::socket visitor, net::tcp::endpoint peer);

  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::shared_ptr<const ProxyGate> proxy_gate_;  // the PROXY protocol step (proxy_sniff.hpp)
  std::uint16_t port_ = 0;
};

}  // namespace porthole::relay
