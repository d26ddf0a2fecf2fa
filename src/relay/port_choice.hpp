// Which public port a TCP/UDP endpoint gets: pure logic, unit-tested without sockets.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "core/address.hpp"
#include "core/result.hpp"

namespace porthole::relay {

struct PortRequest {
  std::optional<std::uint16_t> asked;     // the agent's --remote-port
  std::optional<std::uint16_t> reserved;  // from an earlier session of the same token + tunnel
  PortRange allowed;                      // the token's scope, else the relay's range
};

// `usable(port)` says whether the port is free to take now (not reserved by another tunnel,
// not bound by anything). Order: the asked port (must be allowed and usable, or it is an
// error), then the reservation, then the first usable port of the allowed range.
Result<std::uint16_t> choose_port(const PortRequest& req, const std::function<bool(std::uint16_t)>& usable);

}  // namespace porthole::relay
