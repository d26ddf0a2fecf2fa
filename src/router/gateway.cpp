// Default gateway and LAN address discovery (/proc/net/route + getifaddrs), IPv4 classification,
// and the small enum helpers of router.hpp.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/address.hpp"
#include "router/router.hpp"

namespace porthole::router {
namespace {

std::optional<std::uint32_t> parse_v4(std::string_view s) {  // host byte order
  std::string tmp(s);
  in_addr a{};
  if (inet_pton(AF_INET, tmp.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string format_v4(std::uint32_t host_order) {
  in_addr a{};
  a.s_addr = htonl(host_order);
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::uint32_t mask_of(int prefix) {
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

bool in_net(std::uint32_t a, std::uint32_t net, int prefix) {
  return (a & mask_of(prefix)) == (net & mask_of(prefix));
}

struct DefaultRoute {
  std::string iface;
  std::uint32_t gateway = 0;  // host order
};

std::optional<DefaultRoute> read_default_route() {
  std::ifstream in("/proc/net/route");
  std::string line;
  std::getline(in, line);  // header
  std::optional<DefaultRoute> best;
  unsigned long best_metric = ~0ul;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string iface, dest, gw, flags, refcnt, use, metric, mask;
    if (!(ls >> iface >> dest >> gw >> flags >> refcnt >> use >> metric >> mask)) continue;
    unsigned long d = std::stoul(dest, nullptr, 16), m = std::stoul(mask, nullptr, 16);
    unsigned long f = std::stoul(flags, nullptr, 16), met = std::stoul(metric);
    if (d != 0 || m != 0 || (f & 0x3) != 0x3 || met >= best_metric) continue;  // RTF_UP|RTF_GATEWAY
    // The file holds addresses in network byte order printed as a host-order number.
    auto raw = static_cast<std::uint32_t>(std::stoul(gw, nullptr, 16));
    best = DefaultRoute{iface, ntohl(raw)};
    best_metric = met;
  }
  return best;
}

struct IfAddr {
  std::string iface;
  std::uint32_t addr = 0;
  int prefix = 0;
};

std::vector<IfAddr> ipv4_interfaces() {
  std::vector<IfAddr> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_netmask) continue;
    if (i->ifa_flags & IFF_LOOPBACK) continue;
    sockaddr_in a{}, m{};
    std::memcpy(&a, i->ifa_addr, sizeof a);
    std::memcpy(&m, i->ifa_netmask, sizeof m);
    out.push_back({i->ifa_name, ntohl(a.sin_addr.s_addr), __builtin_popcount(ntohl(m.sin_addr.s_addr))});
  }
  freeifaddrs(list);
  return out;
}

Gateway make_gateway(const IfAddr& ia, std::uint32_t gw, bool overridden) {
  Gateway g;
  g.interface = ia.iface;
  g.gateway = format_v4(gw);
  g.lan_address = format_v4(ia.addr);
  g.prefix_length = ia.prefix;
  g.lan_is_private = is_private_ipv4(g.lan_address);
  g.overridden = overridden;
  return g;
}

Result<Gateway> pick(std::uint32_t gw, const std::string& prefer_iface, bool overridden) {
  auto addrs = ipv4_interfaces();
  for (const auto& ia : addrs) {  // an address whose subnet holds the gateway wins
    if ((prefer_iface.empty() || ia.iface == prefer_iface) && in_net(gw, ia.addr, ia.prefix)) {
      return make_gateway(ia, gw, overridden);
    }
  }
  for (const auto& ia : addrs) {
    if (in_net(gw, ia.addr, ia.prefix)) return make_gateway(ia, gw, overridden);
  }
  for (const auto& ia : addrs) {
    if (!prefer_iface.empty() && ia.iface == prefer_iface) return make_gateway(ia, gw, overridden);
  }
  return make_error("no IPv4 address on {} to reach gateway {}",
                    prefer_iface.empty() ? std::string("any interface") : prefer_iface, format_v4(gw));
}

}  // namespace

std::string_view to_string(Method m) {
  switch (m) {
    case Method::auto_: return "auto";
    case Method::upnp: return "upnp";
    case Method::natpmp: return "natpmp";
    case Method::pcp: return "pcp";
  }
  return "?";
}

std::string_view to_string(Protocol p) { return p == Protocol::udp ? "udp" : "tcp"; }

Result<Method> parse_method(std::string_view t) {
  for (Method m : {Method::auto_, Method::upnp, Method::natpmp, Method::pcp}) {
    if (t == to_string(m)) return m;
  }
  return make_error("unknown method '{}' (expected auto, upnp, natpmp or pcp)", t);
}

Result<std::pair<std::uint16_t, std::uint16_t>> parse_port_pair(std::string_view text) {
  auto colon = text.find(':');
  auto ext = parse_port(text.substr(0, colon));
  if (!ext) return make_error("invalid port mapping '{}': {}", text, ext.error().message);
  if (colon == std::string_view::npos) return std::pair{*ext, *ext};
  auto in = parse_port(text.substr(colon + 1));
  if (!in) return make_error("invalid port mapping '{}': {}", text, in.error().message);
  return std::pair{*ext, *in};
}

Result<Gateway> discover_gateway() {
  auto route = read_default_route();
  if (!route) return make_error("no default IPv4 route (see `ip route`): this machine has no gateway");
  return pick(route->gateway, route->iface, false);
}

Result<Gateway> gateway_for(std::string_view gateway) {
  auto gw = parse_v4(gateway);
  if (!gw) return make_error("--gateway '{}' is not an IPv4 address", gateway);
  auto route = read_default_route();
  return pick(*gw, route ? route->iface : std::string(), true);
}

bool same_subnet(std::string_view addr, std::string_view lan, int prefix_length) {
  auto a = parse_v4(addr), l = parse_v4(lan);
  return a && l && in_net(*a, *l, prefix_length);
}

bool is_private_ipv4(std::string_view addr) {
  auto a = parse_v4(addr);
  return a && (in_net(*a, 0x0a000000, 8) || in_net(*a, 0xac100000, 12) || in_net(*a, 0xc0a80000, 16));
}

bool is_cgnat_ipv4(std::string_view addr) {
  auto a = parse_v4(addr);
  return a && in_net(*a, 0x64400000, 10);
}

bool is_public_ipv4(std::string_view addr) {
  auto a = parse_v4(addr);
  if (!a) return false;
  static constexpr std::pair<std::uint32_t, int> kReserved[] = {
      {0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10}, {0x7f000000, 8},  {0xa9fe0000, 16},
      {0xac100000, 12}, {0xc0000000, 24}, {0xc0000200, 24}, {0xc0a80000, 16}, {0xc6120000, 15},
      {0xc6336400, 24}, {0xcb007100, 24}, {0xe0000000, 3},
  };
  for (auto [net, prefix] : kReserved) {
    if (in_net(*a, net, prefix)) return false;
  }
  return true;
}

const MethodProbe* ProbeReport::first_ok() const {
  for (const auto& m : methods) {
    if (m.ok) return &m;
  }
  return nullptr;
}

}  // namespace porthole::router
