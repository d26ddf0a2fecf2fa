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
#include "inspect/api.hpp"
#include "config/model.hpp"
#include "net/signal.hpp"
#include "proto/messages.hpp"
#include "session/session.hpp"

namespace porthole::agent {


// The agent is also the agent API's Backend (agent/agent_api.cpp): tunnels started and stopped
// at run time, replays, status.
class Agent : public inspect::Backend {
 public:
  // `out` receives the user-facing "Forwarding URL -> ADDR" lines.
  Agent(net::asio::io_context& io, config::AgentConfig cfg, std::ostream& out);
  ~Agent() override;

  Result<void> start();
  // Stops the tunnels, lets open streams finish within the grace period, closes the session,
  // then calls `done`.
  void shutdown(std::function<void()> done);
  // Called when the agent gives up (--exit-on-failure) with the exit status.
  void on_fatal(std::function<void(int)> f) { on_fatal_ = std::move(f); }

  bool connected() const { return session_ && !session_->closed() && welcomed_; }
  const std::map<std::string, std::shared_ptr<TunnelState>>& tunnel_states() const { return tunnels_; }
  // Captures http exchanges from now on (null: off). Call before start().
  void set_recorder(std::shared_ptr<inspect::Recorder> r);
  // Adds a tunnel while running (asks the relay at once when connected, else at the next
  // session); Errc::conflict when the name is taken.
  Result<void> add_tunnel(config::TunnelConfig t);
  // Unbinds and forgets a tunnel; streams being served keep their TunnelState until done.
  Result<void> remove_tunnel(std::string_view name);
  // The reason of the last session loss ("" while online).
  const std::string& last_error() const { return last_error_; }
  std::uint64_t reconnect_count() const { return reconnects_; }
  const config::AgentConfig& config() const { return cfg_; }

  // inspect::Backend (agent_api.cpp)
  std::vector<inspect::TunnelInfo> tunnels() override;
  net::Task<Result<inspect::TunnelInfo>> start_tunnel(inspect::TunnelSpec spec) override;
  Result<void> stop_tunnel(std::string_view name) override;
  net::Task<Result<int>> replay(std::string tunnel, std::string request, std::string replay_of) override;
  inspect::StatusInfo status() override;
  std::chrono::microseconds rtt() const { return session_ ? session_->rtt() : std::chrono::microseconds(0); }

 private:
  net::Task<void> run();
  net::Task<Result<void>> run_session();
  void on_control(std::string_view message);
  void on_stream(std::shared_ptr<session::MuxStream> stream, std::string_view metadata);
  void give_up(std::string_view why);
  void send_bind(const TunnelState& t);
  inspect::TunnelInfo info(const TunnelState& t);
  net::Task<void> health_loop(std::shared_ptr<session::Session> session, std::string tunnel);

  net::asio::io_context& io_;
  config::AgentConfig cfg_;
  std::ostream& out_;
  std::shared_ptr<net::asio::ssl::context> tls_ctx_;
  std::shared_ptr<session::Session> session_;
  std::map<std::string, std::shared_ptr<TunnelState>> tunnels_;
  std::shared_ptr<inspect::Recorder> recorder_;
  std::string last_error_;
  std::uint64_t reconnects_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  Backoff backoff_;
  std::mt19937_64 rng_;
  net::Signal session_ended_;
  net::asio::steady_timer retry_timer_;
  net::Signal tunnels_changed_;  // a bound / bind_error arrived (start_tunnel waits on it)
  std::string fatal_;  // the relay's reason for refusing us, for the next log line
  bool auth_refused_ = false;
  bool welcomed_ = false;
  bool stopping_ = false;
  std::function<void(int)> on_fatal_;
};

}  // namespace porthole::agent
