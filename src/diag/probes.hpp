// The I/O probes `porthole doctor` gathers its facts with (each bounded by a deadline).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace porthole::diag {

// `nft -j list ruleset` through libnftables (needs CAP_NET_ADMIN).
Result<std::string> read_nft_ruleset_json();

// true when `ipv4` is configured on this machine as a lease (no IFA_F_PERMANENT: DHCP).
Result<bool> address_is_dynamic(const std::string& ipv4);

// Who answers on the way to `dest` (IPv4): TTL 1, 2, ... max_hops, like tracepath (UDP with
// IP_RECVERR, no privileges needed). "" for a hop that did not answer in time. Stops at `dest`.
Result<std::vector<std::string>> trace_hops(const std::string& dest, int max_hops,
                                            std::chrono::milliseconds per_hop);

// HOST -> dotted IPv4 (numeric hosts are returned as they are).
Result<std::string> resolve_ipv4(const std::string& host);

}  // namespace porthole::diag
