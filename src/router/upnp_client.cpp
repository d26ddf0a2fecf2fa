// UPnP IGD v1/v2 through Debian's miniupnpc. SSDP answers whose description URL (or whose IGD
// control URL) is not on this machine's LAN subnet are ignored with a counter.
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>

#include <charconv>
#include <memory>

#include "router/backends.hpp"

namespace porthole::router::detail {
namespace {

// "http://HOST:PORT/path" -> HOST ("" when not http://).
std::string url_host(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, kHttp.size()) != kHttp) return "";
  url.remove_prefix(kHttp.size());
  auto end = url.find_first_of(":/");
  return std::string(url.substr(0, end));
}

std::string upnp_error(int rc) {
  const char* s = strupnperror(rc);
  std::string hint;
  if (rc == 718) hint = " (the external port is already mapped, to another host or by another program)";
  if (rc == 606) hint = " (the router does not allow this mapping)";
  if (rc == 714) hint = " (no such mapping)";
  if (rc == 725) hint = " (the router only accepts permanent mappings: --lease 0)";
  return fmt::format("UPnP error {}: {}{}", rc, s ? s : "unknown", hint);
}

struct Igd {
  UPNPUrls urls{};
  IGDdatas data{};
  int status = 0;  // UPNP_GetValidIGD: 1 connected, 2 not connected, 3 not an IGD
  ~Igd() {
    if (status) FreeUPNPUrls(&urls);
  }
  const char* ctl() const { return urls.controlURL; }
  const char* st() const { return data.first.servicetype; }
};

// Discovers IGDs on the LAN (SSDP, Ctx::timeout) and opens the first valid one on our subnet.
Result<std::unique_ptr<Igd>> open_igd(const Ctx& c) {
  int err = 0;
  int delay = static_cast<int>(std::max<long>(200, c.timeout.count()));
  UPNPDev* list = upnpDiscover(delay, c.gw.lan_address.c_str(), nullptr, UPNP_LOCAL_PORT_ANY, 0, 2, &err);
  if (!list) {
    count_error("upnp", "no_igd");
    return make_error("UPnP: no IGD answered SSDP discovery within {} ms", delay);
  }
  std::vector<UPNPDev*> all, kept, at_gw;
  for (UPNPDev* d = list; d; d = d->pNext) all.push_back(d);
  for (UPNPDev* d : all) {
    std::string host = url_host(d->descURL ? d->descURL : "");
    if (!same_subnet(host, c.gw.lan_address, c.gw.prefix_length)) {
      count_ignored("upnp", "off_subnet", fmt::format("SSDP answer with description at {}", d->descURL));
      continue;
    }
    kept.push_back(d);
    if (host == c.gw.gateway) at_gw.push_back(d);
  }
  auto& use = at_gw.empty() ? kept : at_gw;
  auto igd = std::make_unique<Igd>();
  char lan[64] = {};
  if (!use.empty()) {
    for (std::size_t i = 0; i < use.size(); ++i) use[i]->pNext = i + 1 < use.size() ? use[i + 1] : nullptr;
    igd->status = UPNP_GetValidIGD(use.front(), &igd->urls, &igd->data, lan, sizeof lan);
  }
  for (std::size_t i = 0; i < all.size(); ++i) all[i]->pNext = i + 1 < all.size() ? all[i + 1] : nullptr;
  freeUPNPDevlist(list);
  if (use.empty()) return make_error("UPnP: only off-subnet devices answered discovery (ignored)");
  if (igd->status == 0 || igd->status == 3) {
    count_error("upnp", "no_igd");
    return make_error("UPnP: a device answered but it is not an Internet Gateway Device");
  }
  if (!same_subnet(url_host(igd->ctl() ? igd->ctl() : ""), c.gw.lan_address, c.gw.prefix_length)) {
    count_ignored("upnp", "off_subnet", "IGD control URL off the LAN subnet");
    return make_error("UPnP: the IGD's control URL is not on the LAN subnet (ignored)");
  }
  return igd;
}

std::uint32_t to_u32(const char* s) {
  std::uint32_t v = 0;
  std::string_view sv(s);
  std::from_chars(sv.data(), sv.data() + sv.size(), v);
  return v;
}

std::string ext_port_str(std::uint16_t p) { return std::to_string(p); }
const char* proto_str(Protocol p) { return p == Protocol::udp ? "UDP" : "TCP"; }

}  // namespace

MethodProbe upnp_probe(const Ctx& c) {
  MethodProbe mp;
  mp.method = Method::upnp;
  auto igd = open_igd(c);
  if (!igd) {
    mp.error = igd.error().message;
    return mp;
  }
  mp.answered = true;
  auto& g = **igd;
  mp.detail = fmt::format("IGD {} at {}", g.status == 1 ? "connected" : "not connected", g.ctl());
  char ip[40] = {};
  int rc = UPNP_GetExternalIPAddress(g.ctl(), g.st(), ip);
  if (rc != UPNPCOMMAND_SUCCESS) {
    mp.error = "UPnP: GetExternalIPAddress failed: " + upnp_error(rc);
  } else if (ip[0] == 0 || std::string_view(ip) == "0.0.0.0") {
    mp.error = "UPnP: the router reports no external address (IGD not connected: its WAN address "
               "may be private — double NAT / CGNAT?)";
  } else {
    mp.ok = true;
    mp.external_ip = ip;
  }
  if (g.status != 1 && mp.error.empty()) mp.error = "UPnP: the IGD reports it is not connected";
  if (g.status != 1) mp.ok = false;
  return mp;
}

Result<Mapping> upnp_add(const Ctx& c, const MappingRequest& req) {
  auto igd = open_igd(c);
  if (!igd) return igd.error();
  auto& g = **igd;
  std::uint16_t internal = req.internal_port ? req.internal_port : req.external_port;
  auto ext = ext_port_str(req.external_port), in = std::to_string(internal);
  auto lease = std::to_string(req.lease_seconds);
  int rc = UPNP_AddPortMapping(g.ctl(), g.st(), ext.c_str(), in.c_str(), c.gw.lan_address.c_str(),
                               req.description.c_str(), proto_str(req.protocol), nullptr, lease.c_str());
  if (rc != UPNPCOMMAND_SUCCESS) {
    count_error("upnp", "refused");
    return make_error("UPnP: AddPortMapping {} {} -> {}:{} failed: {}", proto_str(req.protocol), ext,
                      c.gw.lan_address, in, upnp_error(rc));
  }
  Mapping m;
  m.method = Method::upnp;
  m.protocol = req.protocol;
  m.external_port = req.external_port;
  m.internal_port = internal;
  m.internal_address = c.gw.lan_address;
  m.lease_seconds = req.lease_seconds;
  m.description = req.description;
  m.ours = true;
  char ip[40] = {};
  if (UPNP_GetExternalIPAddress(g.ctl(), g.st(), ip) == UPNPCOMMAND_SUCCESS) m.external_address = ip;
  return m;
}

Result<void> upnp_remove(const Ctx& c, std::uint16_t external_port, Protocol p) {
  auto igd = open_igd(c);
  if (!igd) return igd.error();
  auto ext = ext_port_str(external_port);
  int rc = UPNP_DeletePortMapping((*igd)->ctl(), (*igd)->st(), ext.c_str(), proto_str(p), nullptr);
  if (rc != UPNPCOMMAND_SUCCESS) {
    count_error("upnp", "refused");
    return make_error("UPnP: DeletePortMapping {} {} failed: {}", proto_str(p), ext, upnp_error(rc));
  }
  return {};
}

Result<std::vector<Mapping>> upnp_list(const Ctx& c) {
  auto igd = open_igd(c);
  if (!igd) return igd.error();
  std::vector<Mapping> out;
  for (int i = 0; i < 1024; ++i) {  // bounded: a hostile router cannot keep us here
    char ext[6] = {}, client[16] = {}, in[6] = {}, proto[4] = {}, desc[80] = {}, en[4] = {},
         rhost[64] = {}, dur[16] = {};
    auto idx = std::to_string(i);
    int rc = UPNP_GetGenericPortMappingEntry((*igd)->ctl(), (*igd)->st(), idx.c_str(), ext, client, in,
                                             proto, desc, en, rhost, dur);
    if (rc != UPNPCOMMAND_SUCCESS) break;  // 713 SpecifiedArrayIndexInvalid ends the list
    Mapping m;
    m.method = Method::upnp;
    m.protocol = std::string_view(proto) == "UDP" ? Protocol::udp : Protocol::tcp;
    m.external_port = static_cast<std::uint16_t>(to_u32(ext));
    m.internal_port = static_cast<std::uint16_t>(to_u32(in));
    m.internal_address = client;
    m.remote_host = rhost;
    m.lease_seconds = to_u32(dur);
    m.description = desc;
    m.enabled = std::string_view(en) == "1";
    out.push_back(std::move(m));
  }
  return out;
}

Result<Mapping> upnp_get(const Ctx& c, std::uint16_t external_port, Protocol p) {
  auto igd = open_igd(c);
  if (!igd) return igd.error();
  char client[16] = {}, in[6] = {}, desc[80] = {}, en[4] = {}, dur[16] = {};
  auto ext = ext_port_str(external_port);
  int rc = UPNP_GetSpecificPortMappingEntry((*igd)->ctl(), (*igd)->st(), ext.c_str(), proto_str(p), nullptr,
                                            client, in, desc, en, dur);
  if (rc != UPNPCOMMAND_SUCCESS) return make_error("UPnP: {} {} is not mapped: {}", proto_str(p), ext, upnp_error(rc));
  Mapping m;
  m.method = Method::upnp;
  m.protocol = p;
  m.external_port = external_port;
  m.internal_port = static_cast<std::uint16_t>(to_u32(in));
  m.internal_address = client;
  m.description = desc;
  m.enabled = std::string_view(en) == "1";
  m.lease_seconds = to_u32(dur);
  return m;
}

}  // namespace porthole::router::detail
