// Listening sockets: one helper so every listener gets the same options.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::net {

// Listens on host:port (port 0 = any free port). "0.0.0.0", "::" and "" listen on every
// address, IPv4 and IPv6 (dual-stack). SO_REUSEADDR, backlog 4096.
Result<std::unique_ptr<tcp::acceptor>> listen_tcp(const Executor& ex, const std::string& host, std::uint16_t port);

// Accepts until the acceptor is closed, handing each connection to `on_accept`; a failed
// accept (say, out of descriptors) is tried again after 50 ms.
using OnAccept = std::function<void(tcp::socket, const tcp::endpoint& peer)>;
Task<void> accept_each(tcp::acceptor& acceptor, OnAccept on_accept);

// True when host names every address (0.0.0.0, ::, empty).
bool is_wildcard_host(const std::string& host);

}  // namespace porthole::net
