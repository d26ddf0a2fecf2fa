// HOST:PORT parsing and formatting, IPv4 and IPv6 ("[::1]:22").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace porthole {

struct HostPort {
  std::string host;  // name or literal address, without brackets
  std::uint16_t port = 0;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses "PORT", "HOST:PORT", "[V6]:PORT". A bare PORT gets `default_host`.
// `allow_zero` admits port 0 (listen on any free port).
Result<HostPort> parse_host_port(std::string_view text, std::string_view default_host,
                                 bool allow_zero = false);

// Parses a decimal port 1..65535 (0 too when allow_zero).
Result<std::uint16_t> parse_port(std::string_view text, bool allow_zero = false);

// "host:port", with brackets around IPv6 literals.
std::string format_host_port(std::string_view host, std::uint16_t port);
// A unix stream socket as a local address ("unix:/run/app.sock"): kept as HostPort{"unix:PATH",
// 0}; format_host_port prints it as given.
inline constexpr std::string_view kUnixPrefix = "unix:";
bool is_unix_address(const HostPort& hp);
std::string_view unix_path(const HostPort& hp);  // "/run/app.sock"
// A local service or listen address: "unix:/path" (absolute, at most 107 bytes: sun_path), or
// what parse_host_port takes.
Result<HostPort> parse_local_address(std::string_view text, std::string_view default_host, bool allow_zero = false);
inline std::string format_host_port(const HostPort& hp) { return format_host_port(hp.host, hp.port); }

// Parses "LO-HI" (or a single port) into an inclusive range.
struct PortRange {
  std::uint16_t lo = 0, hi = 0;
  bool contains(std::uint16_t p) const { return p >= lo && p <= hi; }
  friend bool operator==(const PortRange&, const PortRange&) = default;
};
Result<PortRange> parse_port_range(std::string_view text);

}  // namespace porthole
