// Where the relay itself may fetch from for a policy (JWKS of `jwt`, OIDC discovery and token
// endpoints of `oidc`): agents name those URLs, so without a check an agent could make the
// relay reach its own loopback or private network (SSRF). Every resolved address must be
// public — loopback, RFC 1918 / CGNAT / ULA private, link-local, unspecified, multicast,
// broadcast and reserved addresses are refused — unless the operator lists it in relay.toml
// `policy_fetch_allow` / `--policy-fetch-allow CIDR`. The special ranges are classified by
// policy::DestPolicy (the exits' check), the private ones here. Pure: the caller resolves,
// checks every address, and connects to exactly the checked ones (docs/security.md).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "policy/cidr.hpp"
#include "policy/dest_check.hpp"

namespace porthole::policy {

class FetchAllow {
 public:
  FetchAllow();  // nothing allowed beyond public addresses
  // CIDRs or addresses ("127.0.0.0/8", "10.1.2.3", "fd00::/8"); the error names the entry.
  static Result<FetchAllow> parse(std::span<const std::string> cidrs);
  // Every address in `addrs` (what `host` resolved to) must pass; `code` of a refusal is the
  // label of porthole_policy_fetches_refused_total: loopback, private, link_local, ...
  DestVerdict check(std::string_view host, std::span<const DestAddr> addrs, std::uint16_t port) const;
  const std::vector<std::string>& entries() const { return entries_; }

 private:
  std::vector<std::string> entries_;
  DestPolicy dest_;   // 0.0.0.0/0, ::/0 and the entries: specials need a narrow entry
  CidrSet allow_;     // the entries again, for the private ranges
  CidrSet private_;   // 10/8, 172.16/12, 192.168/16, 100.64/10, 198.18/15, fc00::/7
};

}  // namespace porthole::policy
