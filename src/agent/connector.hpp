// The client side of `porthole connect`: one session to the relay (the agent's dial, TLS,
// pinning and token proof; hello with role "connect"), kept alive and re-established with the
// agent's backoff, over which each local connection opens a stream to a private endpoint
// (OPEN {"tunnel": NAME, "kind": "connect"}; docs/protocol.md). Opening costs no round trip:
// the OPEN follows hello on a new session and the first bytes follow the OPEN.
#pragma once

#include <chrono>
#include <memory>
#include <random>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "agent/backoff.hpp"
#include "config/model.hpp"
#include "net/signal.hpp"
#include "session/session.hpp"

namespace porthole::agent {

class Connector {
 public:
  Connector(net::asio::io_context& io, config::AgentConfig cfg);
  ~Connector();

  Result<void> start();  // checks the settings, then connects (and reconnects) in the background
  void stop();           // no more reconnects; closes the session

  // A stream to the private endpoint `name`: waits up to `timeout` for a session. A refusal by
  // the relay (forbidden, no agent) arrives as the stream's first read error.
  // `target` (HOST:PORT): the destination an exit is asked to connect to (porthole socks);
  // `transport` "udp": a UDP association with the exit instead (no target).
  net::Task<Result<std::shared_ptr<session::MuxStream>>> open(std::string name, std::chrono::milliseconds timeout,
                                                              std::string target = {}, std::string transport = {});
  bool connected() const { return session_ && !session_->closed(); }
  const std::string& last_error() const { return last_error_; }
  bool auth_refused() const { return auth_refused_; }

 private:
  net::Task<void> run();
  net::Task<Result<void>> run_session();
  void on_control(std::string_view message);

  net::asio::io_context& io_;
  config::AgentConfig cfg_;
  std::shared_ptr<net::asio::ssl::context> tls_ctx_;
  std::shared_ptr<session::Session> session_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  net::Signal changed_;  // a session came up or went down
  net::asio::steady_timer retry_timer_;
  std::string last_error_;
  bool welcomed_ = false;
  bool auth_refused_ = false;
  bool stopping_ = false;
};

}  // namespace porthole::agent
