// One thread's acceptor of a TCP forwarding rule: accept, check the peer against the allow
// list (RST and a counter when it is not on it), connect to the target (host names resolved
// now, so dynamic DNS targets work), and relay both ways with splice (forward/splice.hpp).
// No thread and no timer per connection: two coroutines waiting on the two sockets.
#pragma once

#include <chrono>
#include <memory>

#include "forward/rules.hpp"
#include "forward/socket_util.hpp"
#include "net/asio.hpp"
#include "policy/cidr.hpp"

namespace porthole::forward {

struct TcpOptions {
  std::chrono::milliseconds connect_timeout{10'000};
};

class TcpAcceptor : public std::enable_shared_from_this<TcpAcceptor> {
 public:
  // Takes `fd` (a listening socket from bind_listener) onto `ex`'s thread.
  TcpAcceptor(const net::Executor& ex, Fd fd, Listener rule, TcpOptions opts);
  void start();  // the accept loop; runs until close()
  void close();  // stops accepting; established connections go on

 private:
  net::Task<void> accept_loop();
  static net::Task<void> serve(std::shared_ptr<TcpAcceptor> self, net::tcp::socket visitor);

  net::tcp::acceptor acceptor_;
  Listener rule_;
  policy::CidrSet allow_;
  TcpOptions opts_;
};

// Connects to host:port within `timeout`: an IP literal at once, a name through the resolver.
net::Task<Result<net::tcp::socket>> connect_target(net::Executor ex, std::string host, std::uint16_t port,
                                                   std::chrono::milliseconds timeout);

}  // namespace porthole::forward
