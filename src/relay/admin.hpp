// The relay admin API server: HTTP/1.1 (Boost.Beast) on the --admin address, routing through
// admin_routes (docs/admin-api.md). Runs on the relay's io_context; token-protected unless it
// listens on 127.0.0.1, ::1 or localhost.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::relay {

class Relay;

class AdminServer {
 public:
  // Listens on `address` (HOST:PORT, a bare PORT means 127.0.0.1; port 0 = any free port) and
  // serves `relay`, which must outlive the server (Relay::keep holds it).
  static Result<std::unique_ptr<AdminServer>> start(net::asio::io_context& io, Relay& relay,
                                                    const std::string& address);
  // Stops accepting and closes open admin connections.
  ~AdminServer();

  const std::string& host() const;
  std::uint16_t port() const;
  bool requires_auth() const;
  // "http://HOST:PORT".
  std::string url() const;

  struct Impl;

 private:
  explicit AdminServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with the server's coroutines
};

}  // namespace porthole::relay
