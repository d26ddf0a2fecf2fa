// The doctor's checklist: one function per check, each reading only Facts (no I/O).
#include <algorithm>

#include <fmt/format.h>

#include "core/address.hpp"
#include "diag/facts.hpp"
#include "diag/verdict.hpp"

namespace porthole::diag {

const char* status_symbol(Status s) {
  switch (s) {
    case Status::ok:
      return "✓";
    case Status::fail:
      return "✗";
    case Status::warn:
      return "!";
    case Status::skip:
      return "–";
  }
  return "–";
}

const char* status_name(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::fail:
      return "fail";
    case Status::warn:
      return "warn";
    case Status::skip:
      return "skip";
  }
  return "skip";
}

bool Report::has_failures() const {
  return std::any_of(checks.begin(), checks.end(), [](const Check& c) { return c.status == Status::fail; });
}

bool isp_commonly_blocked(std::uint16_t port) {
  return port == 25 || port == 80 || port == 445 || (port >= 135 && port <= 139);
}

namespace {

std::string port_text(const Facts& f) {
  return f.port ? std::to_string(*f.port) : std::string("PORT");
}

std::string lan_text(const Facts& f) {
  return f.network.value ? f.network.value->lan_address : std::string("this machine's LAN address");
}

Check skipped(std::string id, std::string title, std::string why) {
  return Check{std::move(id), std::move(title), Status::skip, std::move(why), ""};
}

Check check_listening(const Facts& f) {
  std::string title = fmt::format("Something listens on TCP port {}", port_text(f));
  if (!f.port) return skipped("listening", title, "no PORT given");
  if (!f.listeners.value) return skipped("listening", title, "could not list sockets: " + f.listeners.error);
  const auto& ls = *f.listeners.value;
  Check c{"listening", title, Status::ok, "", ""};
  if (ls.empty()) {
    c.status = Status::fail;
    c.detail = fmt::format("nothing listens on TCP port {}", *f.port);
    c.fix = "start the service (see `porthole ports` for what listens), then run doctor again";
    return c;
  }
  std::vector<std::string> where;
  for (const auto& l : ls) {
    where.push_back(format_host_port(l.address, *f.port) + (l.process.empty() ? "" : " (" + l.process + ")"));
  }
  c.detail = fmt::format("listening on {}", fmt::join(where, ", "));
  bool outside =
      std::any_of(ls.begin(), ls.end(), [](const Listener& l) { return l.exposure != Exposure::loopback; });
  if (!outside) {
    c.status = Status::fail;
    c.detail += ": loopback only, other machines cannot connect";
    c.fix = fmt::format("bind to 0.0.0.0 or use `porthole tcp {}`", *f.port);
    return c;
  }
  bool lan_ok = std::any_of(ls.begin(), ls.end(), [&](const Listener& l) {
    return l.exposure == Exposure::all || (f.network.value && l.address == f.network.value->lan_address);
  });
  if (!lan_ok && f.network.value) {
    c.status = Status::warn;
    c.detail += fmt::format(", but not on the LAN address {}", f.network.value->lan_address);
    c.fix = fmt::format("bind to 0.0.0.0 or {} so a port mapping can reach it", f.network.value->lan_address);
  }
  return c;
}

Check check_firewall(const Facts& f) {
  std::string title = fmt::format("Local firewall (nftables) lets TCP {} in", port_text(f));
  if (!f.port) return skipped("firewall", title, "no PORT given");
  if (!f.firewall.value) return skipped("firewall", title, "could not read the ruleset: " + f.firewall.error);
  const auto& fw = *f.firewall.value;
  if (fw.verdict == FirewallVerdict::open) {
    return Check{"firewall", title, Status::ok, fw.where.empty() ? "no rule drops it" : fw.where, ""};
  }
  bool blocked = fw.verdict == FirewallVerdict::blocked;
  Check c{"firewall", title, blocked ? Status::fail : Status::warn, "", ""};
  c.detail = fmt::format("{} {}: {}", blocked ? "dropped in" : "may be dropped in", fw.where,
                         fw.rule.empty() ? "the chain's policy is drop" : fw.rule);
  c.fix = firewall_fix(fw, *f.port);
  return c;
}

Check check_network(const Facts& f) {
  std::string title = "Default gateway and LAN address";
  if (!f.network.value) {
    return Check{"network", title, Status::fail,
                 f.network.error.empty() ? "no default route" : f.network.error,
                 "connect to a network (there is no default IPv4 route)"};
  }
  const auto& n = *f.network.value;
  return Check{"network", title, Status::ok,
               fmt::format("LAN address {}/{} on {}, gateway {}", n.lan_address, n.prefix_length, n.interface,
                           n.gateway),
               ""};
}

Check check_dhcp(const Facts& f) {
  std::string title = "LAN address stays the same";
  if (!f.network.value || !f.network.value->lan_dynamic) return skipped("dhcp", title, "lease state unknown");
  const auto& n = *f.network.value;
  if (!*n.lan_dynamic)
    return Check{"dhcp", title, Status::ok, n.lan_address + " is configured statically", ""};
  return Check{"dhcp", title, Status::warn, n.lan_address + " is a DHCP lease and may change",
               fmt::format("reserve {} for this machine in the router's DHCP settings (static lease), or a "
                           "mapping will point at the wrong machine after the lease changes",
                           n.lan_address)};
}

Check check_router(const Facts& f) {
  std::string title = "Router speaks UPnP / NAT-PMP / PCP";
  if (has_direct_public_address(f))
    return skipped("router", title, "not needed: this machine has a public address");
  if (!f.router.value) {
    return f.router.attempted
               ? Check{"router", title, Status::fail, f.router.error, "check the gateway address"}
               : skipped("router", title, f.router.error);
  }
  std::vector<std::string> ok;
  std::vector<std::string> problems;
  for (const auto& m : f.router.value->methods) {
    if (m.ok) {
      ok.push_back(m.name);
    } else {
      problems.push_back(m.error.empty() ? m.name + ": no answer" : m.error);
    }
  }
  if (!ok.empty()) {
    return Check{"router", title, Status::ok, fmt::format("the router answers {}", fmt::join(ok, ", ")), ""};
  }
  const auto& ms = f.router.value->methods;
  bool answered = std::any_of(ms.begin(), ms.end(), [](const RouterMethod& m) { return m.answered; });
  return Check{"router", title, Status::fail, fmt::format("{}", fmt::join(problems, "; ")),
               answered ? "the router answers but refuses to map: see the external address check"
                        : "enable UPnP or NAT-PMP/PCP in the router's settings, or forward the port by hand"};
}

Check check_mapping(const Facts& f, Nat nat) {
  std::string title = fmt::format("Router forwards port {} to this machine", port_text(f));
  if (!f.port) return skipped("mapping", title, "no PORT given");
  if (has_direct_public_address(f))
    return skipped("mapping", title, "not needed: this machine has a public address");
  if (!f.mapping.value) {
    return skipped("mapping", title,
                   f.mapping.error.empty() ? "the router reports no mappings" : f.mapping.error);
  }
  if (f.mapping.value->present) return Check{"mapping", title, Status::ok, f.mapping.value->text, ""};
  Check c{"mapping", title, Status::fail, "no mapping for this port on the router", ""};
  if (!f.mapping.value->text.empty()) c.detail = f.mapping.value->text;
  bool router_ok = f.router.value && !f.router.value->external_ip.empty();
  if (nat == Nat::cgnat || nat == Nat::double_nat || nat == Nat::router_refuses) {
    c.fix = fmt::format(
        "a mapping on this router alone cannot help (see the NAT check); use `porthole tcp {}`", *f.port);
  } else if (router_ok) {
    c.fix = fmt::format("`porthole map add {}`", *f.port);
  } else {
    c.fix =
        fmt::format("forward TCP {} to {}:{} in the router's web interface", *f.port, lan_text(f), *f.port);
  }
  return c;
}

Check check_reachable(const Facts& f) {
  std::string title = fmt::format("Reachable from the internet on port {}", port_text(f));
  if (!f.relay.attempted) {
    return skipped(
        "reachable", title,
        f.relay.error.empty() ? "give --relay HOST:PORT --token T to test from outside" : f.relay.error);
  }
  if (!f.relay.value) return skipped("reachable", title, "could not ask the relay: " + f.relay.error);
  const auto& r = *f.relay.value;
  if (!r.reachable.has_value())
    return skipped("reachable", title, "not asked (relay sees " + r.observed_ip + ")");
  auto where = format_host_port(r.observed_ip, f.port.value_or(0));
  if (*r.reachable) return Check{"reachable", title, Status::ok, "the relay connected to " + where, ""};
  return Check{
      "reachable", title, Status::fail,
      fmt::format("the relay could not connect to {}{}", where, r.detail.empty() ? "" : ": " + r.detail),
      "see the checks above; or use `porthole tcp " + port_text(f) + "`, which needs no open port"};
}

Check check_isp_block(const Facts& f) {
  std::string title = fmt::format("Port {} is not one ISPs commonly block", port_text(f));
  if (!f.port) return skipped("isp_block", title, "no PORT given");
  if (!isp_commonly_blocked(*f.port)) return Check{"isp_block", title, Status::ok, "", ""};
  auto alt = static_cast<std::uint16_t>(*f.port + 8000);
  return Check{
      "isp_block", title, Status::warn, fmt::format("many residential ISPs block inbound port {}", *f.port),
      fmt::format("map another external port, e.g. `porthole map add {}:{}`, or use `porthole tcp {}`", alt,
                  *f.port, *f.port)};
}

}  // namespace

Report diagnose(const Facts& f) {
  Report r;
  r.nat = classify_nat(f);
  r.checks.push_back(check_listening(f));
  r.checks.push_back(check_firewall(f));
  r.checks.push_back(check_network(f));
  r.checks.push_back(check_dhcp(f));
  r.checks.push_back(check_router(f));
  r.checks.push_back(nat_check(f, r.nat));
  r.checks.push_back(check_mapping(f, r.nat));
  r.checks.push_back(check_reachable(f));
  r.checks.push_back(check_isp_block(f));
  auto [verdict, line] = recommend(f, r);
  r.verdict = std::move(verdict);
  r.recommendation = std::move(line);
  return r;
}

}  // namespace porthole::diag
