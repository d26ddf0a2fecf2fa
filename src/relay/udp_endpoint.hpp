// A public UDP port of the relay (kind "udp"). Each visitor address is a flow: a stream of
// kind "udp" on the session of one of the endpoint's agents, carrying whole datagrams in
// DATAGRAM frames (docs/protocol.md). Flows never wait for each other: a datagram the session
// cannot take at once is dropped and counted. Flows are bounded (the least recently used is
// evicted) and end when idle.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/flow_table.hpp"
#include "net/asio.hpp"
#include "relay/endpoint.hpp"

namespace porthole::relay {

struct UdpFlowLimits {
  std::chrono::milliseconds idle{60'000};
  std::size_t max_flows = 4096;
};

class UdpEndpoint final : public Endpoint {
 public:
  UdpEndpoint(net::udp::socket socket, std::string token, std::string public_url, UdpFlowLimits limits);
  ~UdpEndpoint() override;

  void start();
  void stop() override;  // closes the socket and ends every flow
  std::uint16_t port() const override { return port_; }

 private:
  struct Flow {
    std::shared_ptr<session::MuxStream> stream;
    net::udp::endpoint visitor;
    FlowKey key;
    bool dead = false;
  };
  using FlowPtr = std::shared_ptr<Flow>;

  net::Task<void> recv_loop();
  net::Task<void> expiry_loop();
  static net::Task<void> flow_loop(std::shared_ptr<UdpEndpoint> self, FlowPtr flow);
  void on_datagram(const net::udp::endpoint& from, std::span<const std::uint8_t> data);
  Flow* open_flow(const net::udp::endpoint& from, const FlowKey& key);
  void end_flow(Flow& f, std::string_view why);

  net::udp::socket socket_;
  std::uint16_t port_ = 0;
  std::string dest_;  // the public socket's address, for PROXY headers (0.0.0.0:PORT when wildcard-bound)
  UdpFlowLimits limits_;
  FlowTable<FlowPtr> flows_;
  net::asio::steady_timer expiry_timer_;
  bool stopped_ = false;
};

// The flow key of a UDP endpoint (IPv4 as IPv4-mapped IPv6, and the port).
FlowKey flow_key_of(const net::udp::endpoint& ep);

}  // namespace porthole::relay
