#include "core/address.hpp"

#include <charconv>

namespace porthole {

Result<std::uint16_t> parse_port(std::string_view text, bool allow_zero) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 65535 ||
      (v == 0 && !allow_zero)) {
    return make_error("invalid port '{}' (expected {}..65535)", text, allow_zero ? 0 : 1);
  }
  return static_cast<std::uint16_t>(v);
}

Result<HostPort> parse_host_port(std::string_view text, std::string_view default_host,
                                 bool allow_zero) {
  std::string_view host = default_host;
  std::string_view port = text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("invalid address '{}' (expected [IPv6]:PORT)", text);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) {
      return make_error("invalid address '{}' (write IPv6 addresses as [ADDR]:PORT)", text);
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return make_error("invalid address '{}' (empty host)", text);
  auto p = parse_port(port, allow_zero);
  if (!p) return make_error("invalid address '{}': {}", text, p.error().message);
  return HostPort{std::string(host), *p};
}

bool is_unix_address(const HostPort& hp) {
  return hp.port == 0 && hp.host.starts_with(kUnixPrefix);
}

std::string_view unix_path(const HostPort& hp) {
  return std::string_view(hp.host).substr(kUnixPrefix.size());
}

Result<HostPort> parse_local_address(std::string_view text, std::string_view default_host, bool allow_zero) {
  if (!text.starts_with(kUnixPrefix)) return parse_host_port(text, default_host, allow_zero);
  const auto path = text.substr(kUnixPrefix.size());
  if (path.empty() || path.front() != '/') return make_error("invalid address '{}' (expected unix:/ABSOLUTE/PATH)", text);
  if (path.size() > 107) return make_error("unix socket path '{}' is longer than 107 bytes", path);
  if (path.find('\0') != std::string_view::npos) return make_error("unix socket path holds a NUL byte");
  return HostPort{std::string(text), 0};
}

std::string format_host_port(std::string_view host, std::uint16_t port) {
  if (port == 0 && host.starts_with(kUnixPrefix)) return std::string(host);
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<PortRange> parse_port_range(std::string_view text) {
  auto dash = text.find('-');
  auto lo = parse_port(text.substr(0, dash));
  if (!lo) return make_error("invalid port range '{}': {}", text, lo.error().message);
  if (dash == std::string_view::npos) return PortRange{*lo, *lo};
  auto hi = parse_port(text.substr(dash + 1));
  if (!hi) return make_error("invalid port range '{}': {}", text, hi.error().message);
  if (*hi < *lo) return make_error("invalid port range '{}': high end below low end", text);
  return PortRange{*lo, *hi};
}

}  // namespace porthole
