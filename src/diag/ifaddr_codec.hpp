// rtnetlink RTM_GETADDR dump request and RTM_NEWADDR replies (sans-I/O, core only): which
// addresses are permanent and which are leases (DHCP / SLAAC: IFA_F_PERMANENT absent).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace porthole::diag {

struct IfAddr {
  std::uint32_t ifindex = 0;
  int family = 4;
  int prefix_length = 0;
  std::string address;
  std::uint32_t flags = 0;  // IFA_F_* (the IFA_FLAGS attribute when present)
  bool permanent() const;
};

std::vector<std::uint8_t> build_getaddr_request(std::uint32_t seq);

struct AddrChunk {
  std::vector<IfAddr> addrs;
  bool done = false;
};
Result<AddrChunk> parse_getaddr_reply(std::span<const std::uint8_t> buf);

}  // namespace porthole::diag
