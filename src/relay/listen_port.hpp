// A visitor-facing listening port of the relay (the http and https listeners): the socket, the
// PROXY-protocol gate of relay.toml (proxy_sniff.hpp), and the accept loop that spawns the
// owner's `serve(socket, peer)` for each connection, keeping the owner alive while it runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "config/model.hpp"
#include "core/result.hpp"
#include "net/listen.hpp"
#include "relay/proxy_sniff.hpp"

namespace porthole::relay {

class ListenPort {
 public:
  // Listens on `address` (HOST:PORT, every address when HOST is empty; port 0 = any free port).
  // The error names a bad --accept-proxy-protocol-from CIDR too.
  Result<void> open(const net::Executor& ex, const config::RelayConfig& cfg, const std::string& address);
  // Serves every connection with `owner->serve(socket, peer)` until close().
  template <class Owner>
  void serve_each(std::shared_ptr<Owner> owner) {
    net::asio::co_spawn(acceptor_->get_executor(), accept_loop(std::move(owner)), net::asio::detached);
  }
  void close();
  std::uint16_t port() const;
  const ProxyGate& gate() const { return *gate_; }

 private:
  template <class Owner>
  net::Task<void> accept_loop(std::shared_ptr<Owner> owner) {
    net::OnAccept spawn = [this, owner](net::tcp::socket s, const net::tcp::endpoint& peer) {
      net::asio::co_spawn(
          acceptor_->get_executor(),
          [owner, s = std::move(s), peer]() mutable { return owner->serve(std::move(s), peer); },
          net::asio::detached);
    };
    co_await net::accept_each(*acceptor_, std::move(spawn));
  }

  std::shared_ptr<const ProxyGate> gate_;
  std::unique_ptr<net::tcp::acceptor> acceptor_;
};

}  // namespace porthole::relay
