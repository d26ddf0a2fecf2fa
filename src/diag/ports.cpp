#include "diag/ports.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "core/address.hpp"
#include "diag/services.hpp"
#include "diag/sockdiag.hpp"

namespace porthole::diag {

const char* exposure_name(Exposure e) {
  switch (e) {
    case Exposure::loopback:
      return "loopback";
    case Exposure::address:
      return "address";
    case Exposure::interface:
      return "interface";
    case Exposure::all:
      return "all";
  }
  return "all";
}

bool is_loopback_address(std::string_view addr) {
  in_addr v4{};
  in6_addr v6{};
  std::string a(addr);
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, a.c_str(), &v6) != 1) return false;
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

bool is_wildcard_address(std::string_view addr) {
  in_addr v4{};
  in6_addr v6{};
  std::string a(addr);
  if (inet_pton(AF_INET, a.c_str(), &v4) == 1) return v4.s_addr == 0;
  return inet_pton(AF_INET6, a.c_str(), &v6) == 1 && IN6_IS_ADDR_UNSPECIFIED(&v6);
}

ExposureInfo classify_exposure(const SockEntry& e, std::string_view ifname) {
  if (is_loopback_address(e.local_addr)) return {Exposure::loopback, "loopback only"};
  if (e.ifindex != 0) {
    std::string dev = ifname.empty() ? fmt::format("if#{}", e.ifindex) : std::string(ifname);
    return {Exposure::interface, fmt::format("interface {} only", dev)};
  }
  if (is_wildcard_address(e.local_addr)) {
    if (e.family == 4) return {Exposure::all, "all interfaces (IPv4)"};
    if (e.v6only.value_or(false)) return {Exposure::all, "all interfaces (IPv6 only)"};
    return {Exposure::all, "all interfaces (IPv4+IPv6)"};
  }
  if (ifname.empty()) return {Exposure::address, fmt::format("{} only", e.local_addr)};
  return {Exposure::address, fmt::format("{} only ({})", e.local_addr, ifname)};
}

namespace {

bool wanted(const SockEntry& s, const ListOptions& opts) {
  if (opts.all) return true;
  auto st = static_cast<SockState>(s.state);
  return s.proto == Proto::tcp ? st == SockState::listen : st == SockState::close;
}

// Numeric address -> the interface that holds it (getifaddrs).
std::map<std::string, std::string> address_interfaces() {
  std::map<std::string, std::string> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_name == nullptr) continue;
    std::array<char, INET6_ADDRSTRLEN> text{};
    const void* raw = nullptr;
    if (i->ifa_addr->sa_family == AF_INET) {
      raw = &reinterpret_cast<const sockaddr_in*>(static_cast<const void*>(i->ifa_addr))->sin_addr;
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      raw = &reinterpret_cast<const sockaddr_in6*>(static_cast<const void*>(i->ifa_addr))->sin6_addr;
    }
    if (raw && inet_ntop(i->ifa_addr->sa_family, raw, text.data(), text.size())) {
      out.emplace(text.data(), i->ifa_name);
    }
  }
  freeifaddrs(list);
  return out;
}

std::string ifname_for(const SockEntry& s, const std::map<std::string, std::string>& by_addr) {
  if (s.ifindex != 0) {
    std::array<char, IF_NAMESIZE> name{};
    return if_indextoname(s.ifindex, name.data()) ? std::string(name.data()) : std::string();
  }
  auto it = by_addr.find(s.local_addr);
  return it == by_addr.end() ? std::string() : it->second;
}

}  // namespace

std::vector<PortEntry> select_and_sort(std::vector<PortEntry> entries, const ListOptions& opts) {
  std::erase_if(entries, [&](const PortEntry& p) { return !wanted(p.sock, opts); });
  std::sort(entries.begin(), entries.end(), [](const PortEntry& a, const PortEntry& b) {
    return std::tie(a.sock.proto, a.sock.local_port, a.sock.family, a.sock.local_addr, a.sock.remote_addr,
                    a.sock.remote_port) < std::tie(b.sock.proto, b.sock.local_port, b.sock.family,
                                                   b.sock.local_addr, b.sock.remote_addr, b.sock.remote_port);
  });
  return entries;
}

Result<std::vector<PortEntry>> list_ports(const ListOptions& opts) {
  std::vector<SockEntry> socks;
  const std::uint32_t tcp_states = opts.all ? kAllStates : state_bit(SockState::listen);
  for (auto proto : {Proto::tcp, Proto::udp}) {
    for (int family : {4, 6}) {
      auto r = dump_sockets(family, proto, proto == Proto::tcp ? tcp_states : kAllStates);
      if (!r) {
        if (family == 6) continue;  // kernel without IPv6
        return r.error();
      }
      for (auto& s : *r) socks.push_back(std::move(s));
    }
  }
  auto owners = socket_owners();
  auto by_addr = address_interfaces();
  const auto& names = ServiceNames::system();
  std::vector<PortEntry> out;
  out.reserve(socks.size());
  for (auto& s : socks) {
    PortEntry p;
    p.exposure = classify_exposure(s, ifname_for(s, by_addr));
    if (auto it = owners.find(s.inode); s.inode != 0 && it != owners.end()) p.owners = it->second;
    p.service = names.lookup(s.local_port, s.proto);
    p.sock = std::move(s);
    out.push_back(std::move(p));
  }
  return select_and_sort(std::move(out), opts);
}

namespace {

std::string owners_text(const std::vector<Owner>& owners) {
  if (owners.empty()) return "-";
  std::string s = fmt::format("{}/{}", owners[0].pid, owners[0].name);
  if (owners.size() > 1) s += fmt::format(" (+{})", owners.size() - 1);
  return s;
}

std::string peer_text(const SockEntry& s) {
  if (s.remote_port == 0 && is_wildcard_address(s.remote_addr)) return "*";
  return format_host_port(s.remote_addr, s.remote_port);
}

}  // namespace

std::string render_ports_text(const std::vector<PortEntry>& entries, bool all) {
  std::string out;
  if (all) {
    out += fmt::format("{:<5} {:<12} {:<28} {:<28} {:<28} {:<20} {}\n", "PROTO", "STATE", "LOCAL", "PEER",
                       "EXPOSURE", "PROCESS", "SERVICE");
  } else {
    out += fmt::format("{:<5} {:<28} {:<28} {:<20} {}\n", "PROTO", "LOCAL", "EXPOSURE", "PROCESS", "SERVICE");
  }
  for (const auto& e : entries) {
    const char* proto = e.sock.proto == Proto::tcp ? "tcp" : "udp";
    auto local = format_host_port(e.sock.local_addr, e.sock.local_port);
    auto service = e.service.empty() ? std::string("-") : e.service;
    if (all) {
      out += fmt::format("{:<5} {:<12} {:<28} {:<28} {:<28} {:<20} {}\n", proto, state_name(e.sock.state),
                         local, peer_text(e.sock), e.exposure.text, owners_text(e.owners), service);
    } else {
      out += fmt::format("{:<5} {:<28} {:<28} {:<20} {}\n", proto, local, e.exposure.text,
                         owners_text(e.owners), service);
    }
  }
  if (entries.empty()) out += "(nothing)\n";
  return out;
}

nlohmann::json ports_to_json(const std::vector<PortEntry>& entries) {
  auto arr = nlohmann::json::array();
  for (const auto& e : entries) {
    nlohmann::json owners = nlohmann::json::array();
    for (const auto& o : e.owners) owners.push_back({{"pid", o.pid}, {"name", o.name}});
    nlohmann::json j = {
        {"proto", e.sock.proto == Proto::tcp ? "tcp" : "udp"},
        {"family", e.sock.family == 4 ? "ipv4" : "ipv6"},
        {"state", state_name(e.sock.state)},
        {"local_address", e.sock.local_addr},
        {"local_port", e.sock.local_port},
        {"peer_address", e.sock.remote_addr},
        {"peer_port", e.sock.remote_port},
        {"exposure", exposure_name(e.exposure.kind)},
        {"exposure_text", e.exposure.text},
        {"inode", e.sock.inode},
        {"uid", e.sock.uid},
        {"processes", owners},
        {"pid", e.owners.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.owners[0].pid)},
        {"process", e.owners.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.owners[0].name)},
        {"service", e.service.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.service)},
    };
    if (e.sock.v6only) j["v6only"] = *e.sock.v6only;
    arr.push_back(std::move(j));
  }
  return {{"sockets", arr}};
}

}  // namespace porthole::diag
