// The UDP side of an exit (`porthole exit NAME`, and the relay's own for `--via relay`): a stream whose OPEN says transport "udp" is
// one SOCKS5 UDP association of `porthole socks` (docs/socks.md, docs/protocol.md). Each DATAGRAM
// frame from the client is a SOCKS UDP header (proto/socks5_udp.hpp) naming the destination,
// then the payload. Every destination goes through the same check as a TCP exit stream
// (policy/dest_check.hpp): a name is resolved here and every address it resolves to must pass,
// the datagram goes to exactly a checked address (never resolved again); a refused one is
// dropped, counted (porthole_exit_refused_total{reason}) and logged (rate-limited), never sent.
// Answers are accepted only from the addresses the association sent to (a bounded table of its
// flows) and go back wrapped in a SOCKS UDP header naming their source.
#pragma once

#include <memory>
#include <string>

#include "egress/exit_dial.hpp"
#include "session/session.hpp"

namespace porthole::egress {

inline constexpr std::size_t kExitUdpMaxFlows = 1024;         // destinations per association (LRU)
inline constexpr std::size_t kExitUdpMaxNames = 256;          // resolved names cached per association
inline constexpr std::size_t kExitUdpMaxAssociations = 1024;  // per exit process
inline constexpr std::chrono::seconds kExitUdpIdle{300};      // the socks side ends idle ones sooner

// Serves one association on `stream` (writes 0x00 when ready) until it ends; false when it was
// refused before that (the limit, a bad allow-list): the stream is then reset with the reason.
net::Task<bool> serve_udp_exit(std::shared_ptr<session::MuxStream> stream, const ExitRules& rules, std::string visitor);

}  // namespace porthole::egress
