// The UDP side of an exit (`porthole exit NAME`): a stream whose OPEN says transport "udp" is
// one SOCKS5 UDP association of `porthole socks` (docs/socks.md, docs/protocol.md). Each DATAGRAM
// frame from the client is a SOCKS UDP header (proto/socks5_udp.hpp) naming the destination,
// then the payload. Every destination goes through the same check as a TCP exit stream
// (policy/dest_check.hpp): a name is resolved here and every address it resolves to must pass,
// the datagram goes to exactly a checked address (never resolved again); a refused one is
// dropped, counted (porthole_exit_refused_total{reason}) and logged (rate-limited), never sent.
// Answers are accepted only from the addresses the association sent to (a bounded table of its
// flows) and go back wrapped in a SOCKS UDP header naming their source.
#pragma once

#include "agent/tunnel.hpp"

namespace porthole::agent {

inline constexpr std::size_t kExitUdpMaxFlows = 1024;         // destinations per association (LRU)
inline constexpr std::size_t kExitUdpMaxNames = 256;          // resolved names cached per association
inline constexpr std::size_t kExitUdpMaxAssociations = 1024;  // per exit process
inline constexpr std::chrono::seconds kExitUdpIdle{300};      // the socks side ends idle ones sooner

net::Task<void> serve_exit_udp(std::shared_ptr<session::MuxStream> stream, TunnelState& tunnel, proto::OpenMeta meta);

}  // namespace porthole::agent
