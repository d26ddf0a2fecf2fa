// porthole map add|list|remove|external-ip: port mappings on the home router (PCP, NAT-PMP,
// UPnP IGD), see src/router/router.hpp and docs/router.md.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "core/address.hpp"
#include "router/router.hpp"

namespace porthole::app {
namespace {

using nlohmann::json;
using router::Method;
using router::Protocol;

struct MapOpts {
  // common
  std::string gateway;
  int timeout_ms = 2000;
  std::string state_file;
  bool json = false;
  // add / remove
  std::string ports;
  bool udp = false;
  std::uint32_t lease = 3600;
  std::string method = "auto";
  std::string description = std::string(router::kDescriptionPrefix);
  bool keep = false;
  std::uint32_t recheck = 60;
};

MapOpts& opts() {
  static MapOpts o;
  return o;
}

void add_common(CLI::App* sub, bool with_method) {
  auto& o = opts();
  sub->add_option("--gateway", o.gateway, "Router address (default: the default IPv4 gateway)");
  sub->add_option("--timeout", o.timeout_ms, "Milliseconds to wait for the router, per method")
      ->check(CLI::Range(100, 60000))
      ->capture_default_str();
  sub->add_option("--state-file", o.state_file,
                  "Where porthole records the mappings it made (default "
                  "$XDG_STATE_HOME/porthole/mappings.json)");
  sub->add_flag("--json", o.json, "Machine-readable output");
  if (with_method) {
    sub->add_option("--method", o.method, "auto (PCP, then NAT-PMP, then UPnP), upnp, natpmp or pcp")
        ->check(CLI::IsMember({"auto", "upnp", "natpmp", "pcp"}))
        ->capture_default_str();
  }
}

router::Options router_options() {
  router::Options r;
  if (!opts().gateway.empty()) r.gateway = opts().gateway;
  r.timeout = std::chrono::milliseconds(opts().timeout_ms);
  if (!opts().state_file.empty()) r.state_file = opts().state_file;
  return r;
}

Method method() { return router::parse_method(opts().method).value(); }  // IsMember-checked

json to_json(const router::Mapping& m) {
  json j = {{"method", router::to_string(m.method)},
            {"protocol", router::to_string(m.protocol)},
            {"external_port", m.external_port},
            {"internal_address", m.internal_address},
            {"internal_port", m.internal_port},
            {"lease_seconds", m.lease_seconds},
            {"description", m.description},
            {"enabled", m.enabled},
            {"ours", m.ours}};
  if (!m.external_address.empty()) j["external_address"] = m.external_address;
  if (!m.remote_host.empty()) j["remote_host"] = m.remote_host;
  if (m.epoch) j["epoch"] = *m.epoch;
  return j;
}

std::string describe(const router::Mapping& m) {
  auto ext = m.external_address.empty() ? std::string("*") : m.external_address;
  return fmt::format("{} {}:{} -> {}:{} via {} (lease {})", router::to_string(m.protocol), ext, m.external_port,
                     m.internal_address, m.internal_port, router::to_string(m.method),
                     m.lease_seconds ? fmt::format("{}s", m.lease_seconds) : std::string("permanent"));
}

// Opens the client or reports why not (exit 1: discovery is a runtime failure).
std::optional<router::Client> open_client() {
  auto c = router::Client::open(router_options());
  if (!c) {
    std::cerr << "porthole: map: " << c.error().message << "\n";
    if (opts().json) std::cout << json{{"error", c.error().message}}.dump() << "\n";
    return std::nullopt;
  }
  return std::move(*c);
}

int fail(std::string_view what, const Error& e) {
  std::cerr << "porthole: map " << what << ": " << e.message << "\n";
  if (opts().json) std::cout << json{{"error", e.message}}.dump() << "\n";
  return 1;
}

int run_add() {
  auto& o = opts();
  auto ports = router::parse_port_pair(o.ports);
  if (!ports) {
    std::cerr << "porthole: map add: " << ports.error().message << "\n";
    return 2;
  }
  auto client = open_client();
  if (!client) return 1;
  router::MappingRequest req;
  req.external_port = ports->first;
  req.internal_port = ports->second;
  req.protocol = o.udp ? Protocol::udp : Protocol::tcp;
  req.lease_seconds = o.lease;
  req.description = o.description;
  req.method = method();
  if (o.keep) {
    auto m = client->add(req);
    if (!m) return fail("add", m.error());
    if (o.json) {
      auto j = to_json(*m);
      j["event"] = "mapped";
      std::cout << j.dump() << std::endl;
    } else {
      std::cout << "Mapped " << describe(*m) << "\n";
    }
    return 0;
  }
  router::KeeperOptions ko;
  ko.recheck_seconds = o.recheck;
  ko.on_event = [](const router::Mapping& m, std::string_view what) {
    if (opts().json) {
      auto j = to_json(m);
      j["event"] = what;
      std::cout << j.dump() << std::endl;
    } else if (what == "mapped") {
      std::cout << "Mapped " << describe(m) << "; renewing until Ctrl-C, then removing it" << std::endl;
    } else if (what == "removed") {
      std::cout << "Removed " << router::to_string(m.protocol) << " " << m.external_port << std::endl;
    }
  };
  return router::keep_mapping(*client, req, ko);
}

int run_list() {
  auto client = open_client();
  if (!client) return 1;
  auto list = client->list(method());
  if (!list) return fail("list", list.error());
  if (opts().json) {
    json arr = json::array();
    for (const auto& m : *list) arr.push_back(to_json(m));
    std::cout << json{{"gateway", client->gateway().gateway}, {"lan_address", client->gateway().lan_address},
                      {"mappings", arr}}
                     .dump(2)
              << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<5} {:>5}  {:<21} {:>9}  {:<6} {:<4} {}\n", "PROTO", "EXT", "INTERNAL", "LEASE",
                           "METHOD", "OURS", "DESCRIPTION");
  int foreign = 0;
  for (const auto& m : *list) {
    if (!m.ours) ++foreign;
    std::cout << fmt::format("{:<5} {:>5}  {:<21} {:>9}  {:<6} {:<4} {}\n", router::to_string(m.protocol),
                             m.external_port, fmt::format("{}:{}", m.internal_address, m.internal_port),
                             m.lease_seconds ? fmt::format("{}s", m.lease_seconds) : "permanent",
                             router::to_string(m.method), m.ours ? "yes" : "NO", m.description);
  }
  if (foreign) {
    std::cout << foreign << " mapping(s) marked NO were not made by porthole: check that you expect them.\n";
  }
  return 0;
}

int run_remove() {
  auto& o = opts();
  auto port = parse_port(o.ports);
  if (!port) {
    std::cerr << "porthole: map remove: " << port.error().message << "\n";
    return 2;
  }
  auto client = open_client();
  if (!client) return 1;
  auto proto = o.udp ? Protocol::udp : Protocol::tcp;
  if (auto r = client->remove(*port, proto, method()); !r) return fail("remove", r.error());
  if (o.json) {
    std::cout << json{{"removed", true}, {"protocol", router::to_string(proto)}, {"external_port", *port}}.dump()
              << "\n";
  } else {
    std::cout << "Removed " << router::to_string(proto) << " " << *port << "\n";
  }
  return 0;
}

int run_external_ip() {
  auto client = open_client();
  if (!client) return 1;
  auto ip = client->external_ip(method());
  if (!ip) return fail("external-ip", ip.error());
  if (opts().json) {
    std::cout << json{{"external_ip", *ip}, {"gateway", client->gateway().gateway}}.dump() << "\n";
  } else {
    std::cout << *ip << "\n";
  }
  return 0;
}

}  // namespace

void add_map(CLI::App& app, Run& run) {
  auto& o = opts();
  auto* map = app.add_subcommand("map", "Ask the home router for port mappings (PCP, NAT-PMP, UPnP IGD)");
  map->require_subcommand(1);

  auto* add = map->add_subcommand("add", "Map EXTPORT on the router to this machine's INTPORT");
  add->add_option("ports", o.ports, "EXTPORT[:INTPORT]")->required();
  add->add_flag("--udp", o.udp, "UDP instead of TCP");
  add->add_option("--lease", o.lease, "Lease in seconds (0 = permanent, UPnP only)")->capture_default_str();
  add->add_option("--description", o.description, "Description shown on the router")->capture_default_str();
  add->add_flag("--keep", o.keep, "Map once and exit, leaving the mapping in place (no renewal)");
  add->add_option("--recheck", o.recheck, "Seconds between checks for a router restart")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  add_common(add, true);
  add->callback([&run] { run = run_add; });

  auto* list = map->add_subcommand("list", "Every mapping the router reports; marks those porthole did not make");
  add_common(list, true);
  list->callback([&run] { run = run_list; });

  auto* remove = map->add_subcommand("remove", "Remove the mapping of EXTPORT");
  remove->add_option("port", o.ports, "EXTPORT")->required();
  remove->add_flag("--udp", o.udp, "UDP instead of TCP");
  add_common(remove, true);
  remove->callback([&run] { run = run_remove; });

  auto* ext = map->add_subcommand("external-ip", "Print the router's external address");
  add_common(ext, true);
  ext->callback([&run] { run = run_external_ip; });
}

}  // namespace porthole::app
