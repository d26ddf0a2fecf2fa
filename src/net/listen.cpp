#include "net/listen.hpp"

#include "core/address.hpp"
#include "net/signal.hpp"

namespace porthole::net {

bool is_wildcard_host(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

Result<std::unique_ptr<tcp::acceptor>> listen_tcp(const Executor& ex, const std::string& host, std::uint16_t port) {
  error_code ec;
  asio::ip::address addr;
  if (is_wildcard_host(host)) {
    addr = asio::ip::address_v6::any();
  } else if (host == "localhost") {
    addr = asio::ip::address_v4::loopback();
  } else {
    addr = asio::ip::make_address(host, ec);
    if (ec) return make_error("cannot listen on {}: not an IP address", format_host_port(host, port));
  }
  auto acc = std::make_unique<tcp::acceptor>(ex);
  tcp::endpoint ep(addr, port);
  acc->open(ep.protocol(), ec);
  if (ec && is_wildcard_host(host)) {  // no IPv6 on this host: IPv4 only
    ep = tcp::endpoint(asio::ip::address_v4::any(), port);
    ec.clear();
    acc->open(tcp::v4(), ec);
  }
  if (ec) return make_error("cannot listen on {}: {}", format_host_port(host, port), ec.message());
  acc->set_option(asio::socket_base::reuse_address(true), ec);
  if (ep.address().is_v6()) acc->set_option(asio::ip::v6_only(!is_wildcard_host(host)), ec);
  acc->bind(ep, ec);
  if (ec) return make_error("cannot listen on {}: {}", format_host_port(host, port), ec.message());
  acc->listen(4096, ec);
  if (ec) return make_error("cannot listen on {}: {}", format_host_port(host, port), ec.message());
  return acc;
}

Task<void> accept_each(tcp::acceptor& acceptor, OnAccept on_accept) {
  while (acceptor.is_open()) {
    tcp::endpoint peer;
    auto [ec, sock] = co_await acceptor.async_accept(peer, use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      co_await sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    on_accept(std::move(sock), peer);
  }
}

}  // namespace porthole::net
