#include "diag/gather.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "agent/probe.hpp"
#include "core/address.hpp"
#include "core/metrics.hpp"
#include "diag/nft_eval.hpp"
#include "diag/probes.hpp"

namespace porthole::diag {

Fact<std::vector<Listener>> gather_listeners(std::uint16_t port) {
  auto entries = list_ports({.all = false});
  if (!entries) return Fact<std::vector<Listener>>::failed(entries.error().message);
  std::vector<Listener> out;
  for (const auto& e : *entries) {
    if (e.sock.proto != Proto::tcp || e.sock.local_port != port) continue;
    std::string proc = e.owners.empty() ? "" : fmt::format("{}/{}", e.owners[0].pid, e.owners[0].name);
    out.push_back(Listener{e.sock.local_addr, e.exposure.kind, proc});
  }
  return Fact<std::vector<Listener>>::known(std::move(out));
}

Fact<NetworkFact> gather_network(const router::Options& opts) {
  auto gw = opts.gateway ? router::gateway_for(*opts.gateway) : router::discover_gateway();
  if (!gw) return Fact<NetworkFact>::failed(gw.error().message);
  NetworkFact n{gw->interface, gw->gateway, gw->lan_address, gw->prefix_length, std::nullopt};
  if (auto dyn = address_is_dynamic(gw->lan_address)) {
    n.lan_dynamic = *dyn;
  } else {
    spdlog::debug("doctor: lease state of {}: {}", gw->lan_address, dyn.error().message);
  }
  return Fact<NetworkFact>::known(std::move(n));
}

Fact<RouterFact> router_fact(const Result<router::ProbeReport>& probe) {
  if (!probe) return Fact<RouterFact>::failed(probe.error().message);
  RouterFact r;
  for (const auto& m : probe->methods) {
    std::string name = m.method == router::Method::pcp      ? "PCP"
                       : m.method == router::Method::natpmp ? "NAT-PMP"
                                                            : "UPnP";
    r.methods.push_back(RouterMethod{name, m.answered, m.ok, m.external_ip, m.error});
    if (m.ok && r.external_ip.empty()) r.external_ip = m.external_ip;
  }
  return Fact<RouterFact>::known(std::move(r));
}

MappingFact find_mapping(const std::vector<router::Mapping>& mappings, const std::string& lan,
                         std::uint16_t port) {
  std::string taken;
  for (const auto& m : mappings) {
    if (m.protocol != router::Protocol::tcp || !m.enabled) continue;
    bool to_us = m.internal_address == lan && m.internal_port == port;
    if (!to_us && m.external_port != port) continue;
    auto text =
        fmt::format("{} tcp {} -> {}:{}{}", router::to_string(m.method), m.external_port, m.internal_address,
                    m.internal_port, m.description.empty() ? "" : " (" + m.description + ")");
    if (to_us) return MappingFact{true, text};
    taken = "external port taken by another mapping: " + text;
  }
  return MappingFact{false, taken};
}

namespace {

Fact<MappingFact> gather_mapping(const GatherOptions& o, const Fact<RouterFact>& rf) {
  if (!o.port) return Fact<MappingFact>::skipped("no PORT given");
  if (!rf.value || rf.value->external_ip.empty())
    return Fact<MappingFact>::skipped("the router maps nothing");
  auto client = router::Client::open(o.router);
  if (!client) return Fact<MappingFact>::failed(client.error().message);
  auto list = client->list(router::Method::auto_);
  if (!list) return Fact<MappingFact>::failed(list.error().message);
  return Fact<MappingFact>::known(find_mapping(*list, client->gateway().lan_address, *o.port));
}

Fact<RelayFact> gather_relay(const GatherOptions& o) {
  if (!o.relay) return Fact<RelayFact>::skipped();
  if (!o.port) return Fact<RelayFact>::skipped("the relay probe needs a PORT");
  auto r = agent::probe_via_relay(*o.relay, *o.port, o.relay_timeout);
  if (!r) {
    static auto& errors =
        metrics::counter("porthole_diag_probe_errors_total{probe=\"relay\"}", "doctor probes that failed");
    errors.inc();
    return Fact<RelayFact>::failed(r.error().message);
  }
  return Fact<RelayFact>::known(RelayFact{r->observed_ip, r->reachable, r->detail});
}

Fact<std::vector<std::string>> gather_hops(const GatherOptions& o) {
  if (!o.relay) return Fact<std::vector<std::string>>::skipped();
  auto hp = parse_host_port(o.relay->relay, "", false);
  if (!hp) return Fact<std::vector<std::string>>::failed(hp.error().message);
  auto ip = resolve_ipv4(hp->host);
  if (!ip) return Fact<std::vector<std::string>>::failed(ip.error().message);
  auto hops = trace_hops(*ip, o.max_hops, o.hop_timeout);
  if (!hops) return Fact<std::vector<std::string>>::failed(hops.error().message);
  return Fact<std::vector<std::string>>::known(std::move(*hops));
}

}  // namespace

Facts gather_facts(const GatherOptions& o) {
  Facts f;
  f.port = o.port;
  if (o.port) {
    f.listeners = gather_listeners(*o.port);
    auto ruleset = read_nft_ruleset_json();
    if (!ruleset) {
      f.firewall = Fact<FirewallFact>::failed(ruleset.error().message);
    } else if (auto fw = evaluate_nft_ruleset(*ruleset, *o.port)) {
      f.firewall = Fact<FirewallFact>::known(*fw);
    } else {
      f.firewall = Fact<FirewallFact>::failed(fw.error().message);
    }
  }
  f.network = gather_network(o.router);
  f.router =
      f.network.value ? router_fact(router::probe(o.router)) : Fact<RouterFact>::skipped("no gateway to ask");
  f.mapping = gather_mapping(o, f.router);
  f.relay = gather_relay(o);
  f.hops = gather_hops(o);
  return f;
}

}  // namespace porthole::diag
