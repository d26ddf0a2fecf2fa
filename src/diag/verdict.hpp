// The NAT classification and the one-line recommendation of `porthole doctor` (pure).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "diag/facts.hpp"

namespace porthole::diag {

// Public IP, double NAT, CGNAT, ... from the router's external address, the address the relay
// sees, the hops towards the relay and the LAN address.
Nat classify_nat(const Facts& f);
Check nat_check(const Facts& f, Nat nat);
// {verdict key, recommendation line}; the first problem that explains the rest wins.
std::pair<std::string, std::string> recommend(const Facts& f, const Report& r);
// A public, non-reserved IPv4 address (router::is_public_ipv4 minus the documentation ranges).
bool is_global_ipv4(std::string_view addr);
// This machine itself has a public address: no NAT, no router mapping needed.
bool has_direct_public_address(const Facts& f);
std::string firewall_fix(const FirewallFact& fw, std::uint16_t port);

}  // namespace porthole::diag
