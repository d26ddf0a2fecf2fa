// Reads the kernel's socket table through NETLINK_SOCK_DIAG (I/O; parsing in sockdiag_codec).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/result.hpp"
#include "diag/sockdiag_codec.hpp"

namespace porthole::diag {

// Sends `request` on a NETLINK_<protocol> socket and feeds every reply buffer to `on_chunk`,
// which returns true once the dump is complete (NLMSG_DONE). Bounded by `timeout` per recv.
Result<void> netlink_dump(int protocol, const std::vector<std::uint8_t>& request,
                          const std::function<Result<bool>(std::span<const std::uint8_t>)>& on_chunk,
                          std::chrono::milliseconds timeout);

// Every socket of `family` (4 or 6) and `proto` whose state is in `states`. Waits at most
// `timeout` for the kernel's reply.
Result<std::vector<SockEntry>> dump_sockets(int family, Proto proto, std::uint32_t states,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(3));

}  // namespace porthole::diag
