// The relay's side of one agent session: authentication, then the agent's control requests
// (bind, unbind, probe). Visitor streams are opened by the endpoints; streams the peer opens are
// `porthole connect` streams to private endpoints (connect_join.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proto/messages.hpp"
#include "relay/store.hpp"
#include "session/session.hpp"

namespace porthole::relay {

class Relay;

class AgentConn : public std::enable_shared_from_this<AgentConn> {
 public:
  AgentConn(Relay& relay, std::shared_ptr<session::Session> session, std::vector<std::uint8_t> channel_binding,
            std::string address);

  // Starts the session; the agent must authenticate within `auth_timeout`.
  // `on_settled` runs once, when authentication succeeded or the session ended.
  void start(std::chrono::seconds auth_timeout, std::function<void()> on_settled);

  session::Session& session() { return *session_; }
  const std::shared_ptr<session::Session>& session_ptr() const { return session_; }
  bool authenticated() const { return authenticated_; }
  const TokenRecord& token() const { return token_; }
  const std::string& name() const { return name_; }
  const std::string& address() const { return address_; }
  const std::string& relay_host() const { return relay_host_; }  // as the agent dialed it
  std::set<std::string>& tunnels() { return tunnels_; }

 private:
  void on_control(std::string_view message);
  void on_hello(const proto::Hello& hello);
  void on_bind(const proto::Bind& bind);
  void on_probe(const proto::Probe& probe);
  void on_stream(std::shared_ptr<session::MuxStream> stream, std::string_view metadata);
  void fail(std::string_view code, std::string_view message);
  void settle();

  Relay& relay_;
  std::shared_ptr<session::Session> session_;
  std::vector<std::uint8_t> binding_;
  std::string address_;  // the agent's HOST:PORT as seen here
  std::string name_;
  std::string relay_host_;
  std::string role_ = "agent";  // or "connect" (porthole connect)
  TokenRecord token_;
  bool authenticated_ = false;
  bool failed_ = false;  // a fatal error was sent; everything after it is ignored
  std::set<std::string> tunnels_;
  std::function<void()> on_settled_;
};

}  // namespace porthole::relay
