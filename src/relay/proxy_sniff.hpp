// The PROXY protocol step of the visitor pipeline, first on the relay's public tcp, http and
// https listeners (docs/proxy-protocol.md):
//   accept → PROXY step → (HTTP head | ClientHello sniff | tcp policy step) → ...
// A peer in --accept-proxy-protocol-from (a front load balancer) must start with a PROXY v1 or
// v2 header, read here within a deadline; the visitor address is then the one it carries. Any
// other peer is never asked for one, and a connection of theirs that starts with a PROXY
// signature is a protocol error: the header would let anyone pick the address they appear from.
// That check reads nothing ahead (it watches the first bytes as the pipeline reads them), so
// protocols where the server speaks first keep working.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "net/asio.hpp"
#include "net/byte_stream.hpp"
#include "policy/cidr.hpp"

namespace porthole::relay {

// What the pipeline goes on with.
struct VisitorFront {
  // Read the visitor through this (it replays bytes read past a header, or refuses one from a
  // peer not listed). Writes go straight through.
  std::unique_ptr<net::ByteStream> stream;
  std::string addr;  // the visitor, "IP:PORT" / "[IP]:PORT": carried by a header, or the TCP peer
  std::string ip;    // its IP alone, no brackets
  std::string dest;  // what the visitor connected to (the header's destination, or our socket)
  bool carried = false;  // addr came from a PROXY header
};

// A trusted peer's header, read: who it carries, and the bytes that came after it.
struct CarriedHeader {
  std::string addr, ip, dest;  // as in VisitorFront (the TCP endpoints when the header names none)
  std::vector<std::uint8_t> rest;
  bool carried = false;  // the header named IP endpoints (a LOCAL or UNIX one does not)
};

class ProxyGate {
 public:
  // The gate of a relay configuration; the error names the bad CIDR.
  static Result<std::shared_ptr<const ProxyGate>> make(const config::RelayConfig& cfg);

  // The PROXY step for one accepted connection (`raw` over the socket with these endpoints).
  // An error means: close the connection (it is counted and says why).
  net::Task<Result<VisitorFront>> accept(net::ByteStream& raw, const net::tcp::endpoint& peer,
                                         const net::tcp::endpoint& local) const;

  bool trusts(const net::tcp::endpoint& peer) const;

  // For a trusted peer only: reads its mandatory header off `raw` (within the header deadline).
  // accept() uses it; so does the https listener, which sniffs the ClientHello off the socket.
  net::Task<Result<CarriedHeader>> read_header(net::ByteStream& raw, const net::tcp::endpoint& peer,
                                               const net::tcp::endpoint& local) const;

 private:
  policy::CidrSet from_;
  std::chrono::seconds timeout_{5};
};

}  // namespace porthole::relay
