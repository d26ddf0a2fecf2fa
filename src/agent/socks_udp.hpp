// SOCKS5 UDP ASSOCIATE (RFC 1928 sections 4 and 7) for `porthole socks`: a UDP socket of the
// association's own, bound on the IP the client's TCP control connection arrived on (port 0),
// takes datagrams only from the client's IP (and only from the port the request named, or, if it
// named port 0, the port of the first datagram), checks each one's SOCKS UDP header
// (proto/socks5_udp.hpp; FRAG != 0 and malformed ones are dropped and counted) and sends it
// unchanged as one DATAGRAM frame on the association's stream to the exit; the exit's answers
// arrive already wrapped in a SOCKS UDP header naming their source and go to the client as they
// are. The association ends when the control connection closes, the exit ends the stream, or
// nothing moved for kUdpIdle (docs/socks.md).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/result.hpp"
#include "net/asio.hpp"
#include "net/signal.hpp"
#include "net/tcp_stream.hpp"
#include "session/session.hpp"

namespace porthole::agent {

inline constexpr std::size_t kMaxUdpAssociations = 256;  // per `porthole socks` process
inline constexpr std::chrono::seconds kUdpIdle{120};

class SocksUdpAssociation : public std::enable_shared_from_this<SocksUdpAssociation> {
 public:
  // `control_local`/`control_peer`: the TCP control connection's ends; `client_port` the
  // request's DST.PORT (0: not known yet). Refused at kMaxUdpAssociations or when the socket
  // cannot be bound.
  static Result<std::shared_ptr<SocksUdpAssociation>> create(const net::Executor& ex,
                                                             const net::tcp::endpoint& control_local,
                                                             const net::tcp::endpoint& control_peer,
                                                             std::uint16_t client_port, std::string label);
  ~SocksUdpAssociation();
  SocksUdpAssociation(const SocksUdpAssociation&) = delete;
  SocksUdpAssociation& operator=(const SocksUdpAssociation&) = delete;

  // Where clients send datagrams (BND.ADDR / BND.PORT of the reply).
  net::udp::endpoint bound() const { return bound_; }

  // Relays datagrams until the association ends (see above); then resets `stream`.
  net::Task<void> run(net::TcpStream& control, std::shared_ptr<session::MuxStream> stream);

  struct Private {};  // create() only
  SocksUdpAssociation(Private, const net::Executor& ex, net::udp::socket sock, net::asio::ip::address client_ip,
                      std::uint16_t client_port, std::string label);

 private:
  net::Task<void> from_client();
  net::Task<void> from_exit();
  void end(std::string_view why);
  void arm_idle();
  void touch() { last_ = std::chrono::steady_clock::now(); }

  net::udp::socket sock_;
  net::udp::endpoint bound_;
  net::asio::ip::address client_ip_;
  std::uint16_t client_port_;  // 0 until the first datagram when the request named none
  std::string label_;
  std::shared_ptr<session::MuxStream> stream_;
  net::TcpStream* control_ = nullptr;
  net::asio::steady_timer idle_;
  std::chrono::steady_clock::time_point last_;
  net::Signal done_;
  int running_ = 0;
  bool ended_ = false;
};

}  // namespace porthole::agent
