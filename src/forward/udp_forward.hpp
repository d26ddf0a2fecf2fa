// One UDP forwarding rule: datagrams from each visitor address go out through a socket of its
// own towards the target (the target sees one stable source port per visitor, and its replies
// go back to the right visitor). Flows are bounded (the least recently used is evicted) and
// expire when idle. Datagrams are read and written in batches (recvmmsg/sendmmsg) and never
// queued behind a full socket: they are dropped and counted, as a router would. Memory is
// bounded by the flow limit, whatever arrives.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <vector>

#include "core/flow_table.hpp"
#include "forward/rules.hpp"
#include "forward/socket_util.hpp"
#include "net/asio.hpp"
#include "policy/cidr.hpp"

namespace porthole::forward {

struct UdpOptions {
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_flows = 4096;
};

class UdpListener : public std::enable_shared_from_this<UdpListener> {
 public:
  UdpListener(const net::Executor& ex, Fd fd, Listener rule, UdpOptions opts);
  void start();
  void close();  // closes the socket and every flow

 private:
  struct Flow {
    std::shared_ptr<net::udp::socket> up;
    FlowKey key;
    sockaddr_storage visitor{};
    socklen_t visitor_len = 0;
    bool ready = false;  // connected to the target (a name is being resolved until then)
    bool dead = false;
    std::vector<std::vector<std::uint8_t>> pending;  // while resolving, bounded
  };
  using FlowPtr = std::shared_ptr<Flow>;

  net::Task<void> recv_loop();
  net::Task<void> expiry_loop();
  static net::Task<void> flow_loop(std::shared_ptr<UdpListener> self, FlowPtr flow);
  static net::Task<void> resolve_flow(std::shared_ptr<UdpListener> self, FlowPtr flow);
  void handle_batch(int n);
  Flow* flow_for(const sockaddr_storage& from, socklen_t len);
  bool connect_flow(Flow& f, const net::udp::endpoint& target);
  void kill_flow(Flow& f);
  void send_up(Flow& f, int first, int count);

  net::udp::socket sock_;
  Listener rule_;
  policy::CidrSet allow_;
  UdpOptions opts_;
  FlowTable<FlowPtr> flows_;
  std::size_t pending_bytes_ = 0;
  bool target_is_address_ = false;
  net::udp::endpoint target_;
  bool closed_ = false;
  net::asio::steady_timer expiry_timer_;
};

}  // namespace porthole::forward
