// fetch_check.hpp: public destinations only, unless the operator allows a range.
#include "policy/fetch_check.hpp"

#include <fmt/format.h>

namespace porthole::policy {

namespace {

std::vector<std::string> with_world(std::span<const std::string> extra) {
  std::vector<std::string> v = {"0.0.0.0/0", "::/0"};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

}  // namespace

FetchAllow::FetchAllow() {
  auto world = with_world({});
  dest_ = *DestPolicy::parse(world);
  for (const char* c : {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "198.18.0.0/15",
                        "192.0.0.0/24", "fc00::/7"}) {
    (void)private_.add(c);
  }
}

Result<FetchAllow> FetchAllow::parse(std::span<const std::string> cidrs) {
  FetchAllow f;
  for (const auto& c : cidrs) {
    // CIDRs only (no host names, no ports): what the relay may reach is a network decision.
    if (c.empty() || c.find_first_not_of("0123456789abcdefABCDEF.:/") != std::string::npos) {
      return make_error("policy_fetch_allow: '{}' is not a CIDR or address", c);
    }
    if (auto r = f.allow_.add(c); !r) return make_error("policy_fetch_allow: {}", r.error().message);
    f.entries_.push_back(c);
  }
  auto world = with_world(cidrs);
  auto d = DestPolicy::parse(world);
  if (!d) return make_error("policy_fetch_allow: {}", d.error().message);
  f.dest_ = std::move(*d);
  return f;
}

DestVerdict FetchAllow::check(std::string_view host, std::span<const DestAddr> addrs, std::uint16_t port) const {
  auto v = dest_.check(host, addrs, port);
  if (!v.allowed) {
    // DestPolicy speaks of --allow-dest (the exits' flag); the relay's own list is another one.
    const auto at = v.reason.find("refused unless --allow-dest");
    if (at != std::string::npos) {
      v.reason = v.reason.substr(0, at) + "refused for the relay's own fetches unless relay.toml policy_fetch_allow "
                                          "(--policy-fetch-allow) lists it";
    }
    return v;
  }
  for (const auto& a : addrs) {
    if (private_.contains(a.ip) && !allow_.contains(a.ip)) {
      return {false, "private",
              fmt::format("{}{} is a private address: refused for the relay's own fetches unless relay.toml "
                          "policy_fetch_allow (--policy-fetch-allow) lists it",
                          host.empty() ? "" : fmt::format("{} resolves to ", host), a.text())};
    }
  }
  return v;
}

}  // namespace porthole::policy
