// sock_diag (NETLINK_SOCK_DIAG, inet_diag_req_v2) requests and replies, without I/O.
// build_request() makes the dump request; parse_reply() turns one recv() buffer into socket
// entries, bounds-checking every field (the fuzz target tests/fuzz/fuzz_sockdiag.cpp feeds it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace porthole::diag {

enum class Proto : std::uint8_t { tcp, udp };

// Kernel socket states (include/net/tcp_states.h); UDP uses established/close only.
enum class SockState : std::uint8_t {
  established = 1,
  syn_sent,
  syn_recv,
  fin_wait1,
  fin_wait2,
  time_wait,
  close,
  close_wait,
  last_ack,
  listen,
  closing,
  new_syn_recv,
};
const char* state_name(std::uint8_t state);

struct SockEntry {
  Proto proto = Proto::tcp;
  int family = 4;                // 4 or 6
  std::string local_addr;        // numeric, without brackets
  std::uint16_t local_port = 0;  // host order
  std::string remote_addr;
  std::uint16_t remote_port = 0;
  std::uint8_t state = 0;   // SockState value
  std::uint32_t inode = 0;  // 0 for sockets without a file (time-wait, ...)
  std::uint32_t uid = 0;
  std::uint32_t ifindex = 0;   // bound device (SO_BINDTODEVICE), 0 = none
  std::optional<bool> v6only;  // IPv6 sockets only (INET_DIAG_SKV6ONLY)
};

// States bit for idiag_states.
constexpr std::uint32_t state_bit(SockState s) {
  return 1U << static_cast<unsigned>(s);
}
constexpr std::uint32_t kAllStates = 0xffffffffU;

// A netlink dump request for one family (4 or 6) and protocol, matching `states`.
std::vector<std::uint8_t> build_sockdiag_request(int family, Proto proto, std::uint32_t states,
                                                 std::uint32_t seq);

struct ReplyChunk {
  std::vector<SockEntry> entries;
  bool done = false;        // NLMSG_DONE seen: the dump is complete
  std::size_t skipped = 0;  // messages ignored (short payload, unknown family or type)
};

// Parses one buffer of the dump reply. An NLMSG_ERROR with a non-zero code or a malformed
// message header is an error; entries of a malformed message are never half-filled.
Result<ReplyChunk> parse_sockdiag_reply(std::span<const std::uint8_t> buf, Proto proto);

}  // namespace porthole::diag
