#include "diag/verdict.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/address.hpp"
#include "router/router.hpp"

namespace porthole::diag {

const char* nat_name(Nat n) {
  switch (n) {
    case Nat::unknown:
      return "unknown";
    case Nat::public_ip:
      return "public_ip";
    case Nat::double_nat:
      return "double_nat";
    case Nat::cgnat:
      return "cgnat";
    case Nat::router_refuses:
      return "router_refuses";
    case Nat::mismatch:
      return "mismatch";
  }
  return "unknown";
}

namespace {

// Hops past the first (the home router): the network the router's WAN side sits in.
bool upstream_hop(const Facts& f, bool (*pred)(std::string_view)) {
  if (!f.hops.value) return false;
  const auto& h = *f.hops.value;
  return h.size() > 1 && std::any_of(h.begin() + 1, h.end(), [&](const std::string& a) { return pred(a); });
}

bool router_answered_refusal(const Facts& f) {
  if (!f.router.value) return false;
  const auto& ms = f.router.value->methods;
  return std::any_of(ms.begin(), ms.end(), [](const RouterMethod& m) { return m.answered && !m.ok; });
}

std::string observed(const Facts& f) {
  return f.relay.value ? f.relay.value->observed_ip : std::string();
}

// No external address from the router: decide from the relay's view and the hops.
Nat classify_without_router_address(const Facts& f) {
  auto obs = observed(f);
  if (router::is_cgnat_ipv4(obs) || upstream_hop(f, router::is_cgnat_ipv4)) return Nat::cgnat;
  if (router::is_private_ipv4(obs) || upstream_hop(f, router::is_private_ipv4)) return Nat::double_nat;
  if (router_answered_refusal(f)) return Nat::router_refuses;
  return Nat::unknown;
}

std::string port_text(const Facts& f) {
  return f.port ? std::to_string(*f.port) : std::string("PORT");
}

}  // namespace

bool is_global_ipv4(std::string_view addr) {
  if (!router::is_public_ipv4(addr)) return false;
  // Documentation ranges (RFC 5737): miniupnpd and others count them as reserved too.
  for (std::string_view doc : {"192.0.2.", "198.51.100.", "203.0.113."}) {
    if (addr.starts_with(doc)) return false;
  }
  return true;
}

bool has_direct_public_address(const Facts& f) {
  return f.network.value && is_global_ipv4(f.network.value->lan_address);
}

Nat classify_nat(const Facts& f) {
  if (f.network.value) {
    const auto& lan = f.network.value->lan_address;
    if (router::is_cgnat_ipv4(lan)) return Nat::cgnat;  // e.g. a mobile link: CGNAT on the host itself
    if (is_global_ipv4(lan)) return Nat::public_ip;     // no NAT at all
  }
  std::string ext = f.router.value ? f.router.value->external_ip : std::string();
  if (ext.empty()) return classify_without_router_address(f);
  if (router::is_cgnat_ipv4(ext)) return Nat::cgnat;
  if (router::is_private_ipv4(ext)) return Nat::double_nat;
  if (!is_global_ipv4(ext)) return Nat::router_refuses;
  auto obs = observed(f);
  if (!obs.empty() && obs != ext) return Nat::mismatch;
  return Nat::public_ip;
}

Check nat_check(const Facts& f, Nat nat) {
  Check c{"nat", "Router's external address is public (no double NAT, no CGNAT)", Status::ok, "", ""};
  std::string ext = f.router.value ? f.router.value->external_ip : std::string();
  auto obs = observed(f);
  std::string seen = obs.empty() ? std::string() : fmt::format("; the relay sees {}", obs);
  std::string hops;
  if (f.hops.value && f.hops.value->size() > 1) {
    std::vector<std::string> shown;
    for (const auto& h : *f.hops.value) shown.push_back(h.empty() ? "*" : h);
    hops = fmt::format("; path: {}", fmt::join(shown, " -> "));
  }
  std::string pt = port_text(f);
  switch (nat) {
    case Nat::public_ip:
      c.detail = ext.empty()
                     ? fmt::format("this machine has a public address ({})", f.network.value->lan_address)
                     : fmt::format("router's external address {} is public{}", ext, seen);
      return c;
    case Nat::cgnat:
      c.status = Status::fail;
      c.detail = fmt::format("behind carrier-grade NAT (100.64.0.0/10){}{}{}",
                             ext.empty() ? "" : "; router's external address " + ext, seen, hops);
      c.fix = fmt::format(
          "port forwarding cannot work here; use `porthole tcp {}` or ask the ISP for a public IPv4", pt);
      return c;
    case Nat::double_nat:
      c.status = Status::fail;
      c.detail = fmt::format("double NAT: the router's WAN side is a private network{}{}{}",
                             ext.empty() ? "" : " (external address " + ext + ")", seen, hops);
      c.fix = fmt::format(
          "forward the port on the outer router too, or put one router in bridge mode; or use `porthole tcp "
          "{}`",
          pt);
      return c;
    case Nat::router_refuses:
      c.status = Status::fail;
      c.detail = fmt::format("the router refuses to report a usable external address{}{}{}",
                             ext.empty() ? "" : " (" + ext + ")", seen, hops);
      c.fix = fmt::format(
          "its WAN address is private or reserved (double NAT or CGNAT); use `porthole tcp {}`", pt);
      return c;
    case Nat::mismatch:
      c.status = Status::fail;
      c.detail =
          fmt::format("the router says {} but the relay sees {}: another NAT beyond the router", ext, obs);
      c.fix = fmt::format("likely CGNAT with a shared public address; use `porthole tcp {}`", pt);
      return c;
    case Nat::unknown:
      break;
  }
  c.status = Status::skip;
  c.detail = fmt::format("unknown: the router reports no external address{}",
                         seen.empty() ? " and no relay was asked" : seen);
  return c;
}

std::string firewall_fix(const FirewallFact& fw, std::uint16_t port) {
  // fw.where reads "table <family> <table> chain <chain>"; reuse it for the nft command.
  constexpr std::string_view kTable = "table ";
  std::string target = fw.where.rfind(kTable, 0) == 0 ? fw.where.substr(kTable.size()) : "inet filter input";
  if (auto pos = target.find(" chain "); pos != std::string::npos) target.replace(pos, 7, " ");
  return fmt::format("`nft insert rule {} tcp dport {} accept` (and make it permanent in /etc/nftables.conf)",
                     target, port);
}

namespace {

const Check& find_check(const Report& r, std::string_view id) {
  static const Check kNone;
  auto it = std::find_if(r.checks.begin(), r.checks.end(), [&](const Check& c) { return c.id == id; });
  return it == r.checks.end() ? kNone : *it;
}

// The network-level verdicts (NAT), or nullopt when the NAT situation allows forwarding.
std::optional<std::pair<std::string, std::string>> nat_recommendation(Nat nat, const std::string& pt) {
  switch (nat) {
    case Nat::cgnat:
      return std::pair{
          "cgnat", fmt::format("behind CGNAT: port forwarding cannot work here; use `porthole tcp {}`", pt)};
    case Nat::double_nat:
      return std::pair{"double_nat",
                       fmt::format("double NAT: forward the port on both routers (or bridge one), "
                                   "or use `porthole tcp {}`",
                                   pt)};
    case Nat::router_refuses:
      return std::pair{"router_refuses",
                       fmt::format("the router refuses to map (its WAN address is not public): "
                                   "use `porthole tcp {}`",
                                   pt)};
    case Nat::mismatch:
      return std::pair{
          "mismatch",
          fmt::format("another NAT sits beyond the router (likely CGNAT): use `porthole tcp {}`", pt)};
    default:
      return std::nullopt;
  }
}

}  // namespace

std::pair<std::string, std::string> recommend(const Facts& f, const Report& r) {
  std::string pt = port_text(f);
  const auto& listening = find_check(r, "listening");
  if (listening.status == Status::fail && f.listeners.value && f.listeners.value->empty()) {
    return {"not_listening", fmt::format("nothing listens on port {}: start the service first", pt)};
  }
  if (listening.status == Status::fail) {
    return {
        "loopback_only",
        fmt::format("the service listens on loopback only: bind to 0.0.0.0 or use `porthole tcp {}`", pt)};
  }
  if (find_check(r, "firewall").status == Status::fail) {
    return {"firewall",
            fmt::format("the local firewall drops port {}: {}", pt, find_check(r, "firewall").fix)};
  }
  if (f.relay.value && f.relay.value->reachable.value_or(false)) {
    return {"reachable", fmt::format("port {} is reachable from the internet at {}; nothing to do", pt,
                                     format_host_port(f.relay.value->observed_ip, f.port.value_or(0)))};
  }
  if (!f.network.value) return {"offline", "no default route: connect to a network first"};
  if (auto nat = nat_recommendation(r.nat, pt)) return *nat;
  const auto& mapping = find_check(r, "mapping");
  if (find_check(r, "router").status == Status::fail && mapping.status != Status::ok) {
    return {"no_router_protocol",
            fmt::format("the router speaks neither UPnP, NAT-PMP nor PCP: forward port {} "
                        "to {} by hand in its web interface, or use `porthole tcp {}`",
                        pt, f.network.value->lan_address, pt)};
  }
  if (mapping.status == Status::fail) {
    return {"no_mapping", fmt::format("ask the router for a mapping: `porthole map add {}`", pt)};
  }
  if (f.relay.value && f.relay.value->reachable == false) {
    if (f.port && isp_commonly_blocked(*f.port)) {
      return {"isp_block",
              fmt::format("the ISP probably blocks port {}: {}", pt, find_check(r, "isp_block").fix)};
    }
    return {"unreachable", fmt::format("the relay cannot connect although everything here looks right: check "
                                       "the router's own firewall, or use `porthole tcp {}`",
                                       pt)};
  }
  if (!f.port) {
    return {"ok", r.nat == Nat::public_ip
                      ? "port forwarding can work here: run `porthole doctor PORT` for a service"
                      : "run `porthole doctor PORT` to check a service"};
  }
  return {"ok", fmt::format("port {} should be reachable from outside{}", pt,
                            f.relay.attempted ? "" : " (give --relay to test it from outside)")};
}

}  // namespace porthole::diag
