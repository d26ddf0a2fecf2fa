#include "relay/listen_port.hpp"

#include "core/address.hpp"

namespace porthole::relay {

Result<void> ListenPort::open(const net::Executor& ex, const config::RelayConfig& cfg, const std::string& address) {
  auto gate = ProxyGate::make(cfg);
  if (!gate) return gate.error();
  gate_ = std::move(*gate);
  auto addr = parse_host_port(address, "0.0.0.0", true);
  if (!addr) return addr.error();
  auto acc = net::listen_tcp(ex, addr->host, addr->port);
  if (!acc) return acc.error();
  acceptor_ = std::move(*acc);
  return {};
}

void ListenPort::close() {
  net::error_code ec;
  if (acceptor_) acceptor_->close(ec);
}

std::uint16_t ListenPort::port() const {
  net::error_code ec;
  return acceptor_ ? acceptor_->local_endpoint(ec).port() : 0;
}

}  // namespace porthole::relay
