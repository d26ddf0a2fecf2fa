// The agent: keeps one session to the relay alive (reconnecting with backoff), asks the relay
// for its tunnels' endpoints, and serves each stream the relay opens by dialing the tunnel's
// local address and pumping bytes.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "agent/backoff.hpp"
#include "agent/tunnel.hpp"
#include "config/model.hpp"
#include "net/signal.hpp"
#include "proto/messages.hpp"
#include "session/session.hpp"

namespace porthole::agent {


class Agent {
 public:
  // `out` receives the user-facing "Forwarding URL -> ADDR" lines.
  Agent(net::asio::io_context& io, config::AgentConfig cfg, std::ostream& out);
  ~Agent();

  Result<void> start();
  // Stops the tunnels, lets open streams finish within the grace period, closes the session,
  // then calls `done`.
  void shutdown(std::function<void()> done);
  // Called when the agent gives up (--exit-on-failure) with the exit status.
  void on_fatal(std::function<void(int)> f) { on_fatal_ = std::move(f); }

  bool connected() const { return session_ && !session_->closed() && welcomed_; }
  const std::map<std::string, TunnelState>& tunnels() const { return tunnels_; }
  std::chrono::microseconds rtt() const { return session_ ? session_->rtt() : std::chrono::microseconds(0); }

 private:
  net::Task<void> run();
  net::Task<Result<void>> run_session();
  void on_control(std::string_view message);
  void on_stream(std::shared_ptr<session::MuxStream> stream, std::string_view metadata);
  void give_up(std::string_view why);
  net::Task<void> health_loop(std::shared_ptr<session::Session> session, std::string tunnel);

  net::asio::io_context& io_;
  config::AgentConfig cfg_;
  std::ostream& out_;
  std::shared_ptr<net::asio::ssl::context> tls_ctx_;
  std::shared_ptr<session::Session> session_;
  std::map<std::string, TunnelState> tunnels_;
  Backoff backoff_;
  std::mt19937_64 rng_;
  net::Signal session_ended_;
  net::asio::steady_timer retry_timer_;
  std::string fatal_;  // the relay's reason for refusing us, for the next log line
  bool auth_refused_ = false;
  bool welcomed_ = false;
  bool stopping_ = false;
  std::function<void(int)> on_fatal_;
};

}  // namespace porthole::agent
