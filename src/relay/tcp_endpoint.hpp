// A public TCP port of the relay. Each visitor connection becomes a stream of the session of
// the agent currently bound to the endpoint; bytes are pumped until both sides are done.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/asio.hpp"
#include "session/session.hpp"

namespace porthole::relay {

class TcpEndpoint : public std::enable_shared_from_this<TcpEndpoint> {
 public:
  TcpEndpoint(std::unique_ptr<net::tcp::acceptor> acceptor, std::string tunnel, std::string public_url);
  ~TcpEndpoint();

  void start();
  void stop();  // closes the listener; visitors already connected go on
  // Points the endpoint at a (new) agent session.
  void attach(const std::shared_ptr<session::Session>& session) { session_ = session; }
  bool attached_to(const session::Session* s) const { return session_.lock().get() == s; }
  std::string agent_id() const;

  std::uint16_t port() const { return port_; }
  const std::string& tunnel() const { return tunnel_; }
  const std::string& public_url() const { return public_url_; }
  std::uint64_t visitors_total() const { return visitors_total_; }
  std::size_t visitors_open() const { return visitors_open_; }

 private:
  net::Task<void> accept_loop();
  net::Task<void> serve(net::tcp::socket visitor, net::tcp::endpoint peer);

  std::unique_ptr<net::tcp::acceptor> acceptor_;
  std::string tunnel_;
  std::string public_url_;
  std::uint16_t port_ = 0;
  std::weak_ptr<session::Session> session_;
  std::uint64_t visitors_total_ = 0;
  std::size_t visitors_open_ = 0;
};

}  // namespace porthole::relay
