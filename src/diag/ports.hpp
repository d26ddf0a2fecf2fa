// `porthole ports`: what listens on this machine, who owns it, what it usually is and how far
// it is exposed. list_ports() does the I/O; classification and rendering are pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "diag/procfs.hpp"
#include "diag/sockdiag_codec.hpp"

namespace porthole::diag {

enum class Exposure : std::uint8_t {
  loopback,   // 127.0.0.0/8, ::1: only this machine can connect
  address,    // one local address (one interface's network)
  interface,  // bound to a device (SO_BINDTODEVICE)
  all,        // 0.0.0.0 / ::: every interface
};
const char* exposure_name(Exposure e);  // "loopback" | "address" | "interface" | "all"

struct ExposureInfo {
  Exposure kind = Exposure::all;
  std::string text;  // "loopback only", "all interfaces (IPv4)", "192.168.1.5 only (eth0)"
};

bool is_loopback_address(std::string_view addr);
bool is_wildcard_address(std::string_view addr);

// `ifname` names the device for a bound socket (ifindex != 0) or the interface holding the
// address; may be empty.
ExposureInfo classify_exposure(const SockEntry& e, std::string_view ifname = "");

struct PortEntry {
  SockEntry sock;
  ExposureInfo exposure;
  std::vector<Owner> owners;
  std::string service;
};

struct ListOptions {
  bool all = false;  // false: TCP listeners + unconnected UDP; true: every TCP/UDP socket
};

// Dumps TCP and UDP, IPv4 and IPv6, joins owners and service names; sorted by proto, port,
// address. Fails only when the kernel cannot be asked at all.
Result<std::vector<PortEntry>> list_ports(const ListOptions& opts);

// Keeps the entries `opts` asks for, sorted (pure; list_ports uses it).
std::vector<PortEntry> select_and_sort(std::vector<PortEntry> entries, const ListOptions& opts);

std::string render_ports_text(const std::vector<PortEntry>& entries, bool all);
nlohmann::json ports_to_json(const std::vector<PortEntry>& entries);

}  // namespace porthole::diag
