// Reads the kernel's socket table through NETLINK_SOCK_DIAG (I/O; parsing in sockdiag_codec).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "core/result.hpp"
#include "diag/sockdiag_codec.hpp"

namespace porthole::diag {

// Every socket of `family` (4 or 6) and `proto` whose state is in `states`. Waits at most
// `timeout` for the kernel's reply.
Result<std::vector<SockEntry>> dump_sockets(int family, Proto proto, std::uint32_t states,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace porthole::diag
