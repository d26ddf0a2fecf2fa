// The inspect address's HTTP server (Boost.Beast, like the relay's admin API): the agent API
// (api.cpp), the inspector page at / (embedded at build time from web/inspector.html), and the
// live event stream GET /api/events (Server-Sent Events: each new capture as it is stored, and
// the tunnels' metrics every second). One thread: the agent's io_context.
#pragma once

#include <memory>
#include <string>

#include "inspect/api.hpp"

namespace porthole::inspect {

class Server {
 public:
  // Listens on `address` (HOST:PORT; a bare PORT means 127.0.0.1). When the port is taken the
  // next ones are tried (4040, 4041, ... up to 10 more), like ngrok. `recorder` may be null
  // (--inspect off leaves the API without capture... but the agent then starts no server).
  static Result<std::unique_ptr<Server>> start(net::asio::io_context& io, Backend& backend,
                                               std::shared_ptr<Recorder> recorder, const std::string& address);
  ~Server();  // stops accepting and closes every connection

  std::uint16_t port() const;
  const std::string& host() const;
  std::string url() const;  // "http://127.0.0.1:4040"

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// The inspector page (generated from web/inspector.html).
std::string_view inspector_page();

}  // namespace porthole::inspect
