// PROXY protocol headers out (v1, v2), and the address helpers both directions share.
#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>

#include "proto/proxy_protocol.hpp"

namespace porthole::proto::pp {

namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const Address& a) {
  return a.family == Family::inet6 && std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), a.ip.begin());
}

Address to_v4(const Address& a) {
  if (!is_v4_mapped(a)) return a;
  Address out = a;
  out.family = Family::inet;
  out.ip = {};
  std::memcpy(out.ip.data(), a.ip.data() + 12, 4);
  return out;
}

Address to_v6(const Address& a) {
  if (a.family != Family::inet) return a;
  Address out = a;
  out.family = Family::inet6;
  out.ip = {};
  std::memcpy(out.ip.data(), kV4MappedPrefix.data(), 12);
  std::memcpy(out.ip.data() + 12, a.ip.data(), 4);
  return out;
}

bool is_ip(const Address& a) { return a.family == Family::inet || a.family == Family::inet6; }

// Both ends in one family: IPv4 when both are (or are mapped) IPv4, else IPv6. `unspec` when
// they are not a pair of IP addresses or of UNIX paths.
Family normalise(Address& src, Address& dst) {
  if (is_ip(src) && is_ip(dst)) {
    auto s4 = to_v4(src), d4 = to_v4(dst);
    if (s4.family == Family::inet && d4.family == Family::inet) {
      src = s4;
      dst = d4;
      return Family::inet;
    }
    src = to_v6(src);
    dst = to_v6(dst);
    return Family::inet6;
  }
  if (src.family == Family::unix_socket && dst.family == Family::unix_socket) return Family::unix_socket;
  return Family::unspec;
}

void put16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

std::vector<std::uint8_t> text_bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::vector<std::uint8_t> encode_v1(const Header& h) {
  auto src = h.source, dst = h.destination;
  const auto fam = normalise(src, dst);
  if (h.command != Command::proxy || h.transport != Transport::stream || (fam != Family::inet && fam != Family::inet6)) {
    return text_bytes("PROXY UNKNOWN\r\n");
  }
  return text_bytes(fmt::format("PROXY {} {} {} {} {}\r\n", fam == Family::inet ? "TCP4" : "TCP6", format_ip(src),
                                format_ip(dst), src.port, dst.port));
}

std::vector<std::uint8_t> encode_v2(const Header& h) {
  auto src = h.source, dst = h.destination;
  auto fam = h.command == Command::proxy ? normalise(src, dst) : Family::unspec;
  const auto transport = h.command == Command::proxy ? h.transport : Transport::unspec;
  std::vector<std::uint8_t> out(kV2Signature.begin(), kV2Signature.end());
  out.push_back(static_cast<std::uint8_t>(0x20 | static_cast<std::uint8_t>(h.command)));
  out.push_back(static_cast<std::uint8_t>((static_cast<std::uint8_t>(fam) << 4) | static_cast<std::uint8_t>(transport)));
  put16(out, 0);  // length, filled in below
  if (fam == Family::inet || fam == Family::inet6) {
    const std::size_t n = fam == Family::inet ? 4 : 16;
    out.insert(out.end(), src.ip.begin(), src.ip.begin() + static_cast<std::ptrdiff_t>(n));
    out.insert(out.end(), dst.ip.begin(), dst.ip.begin() + static_cast<std::ptrdiff_t>(n));
    put16(out, src.port);
    put16(out, dst.port);
  } else if (fam == Family::unix_socket) {
    for (const auto* a : {&src, &dst}) {
      std::array<std::uint8_t, 108> path{};
      std::memcpy(path.data(), a->path.data(), std::min(a->path.size(), path.size()));
      out.insert(out.end(), path.begin(), path.end());
    }
  }
  for (const auto& t : h.tlvs) {
    out.push_back(t.type);
    put16(out, static_cast<std::uint16_t>(t.value.size()));
    out.insert(out.end(), t.value.begin(), t.value.end());
  }
  const auto len = static_cast<std::uint16_t>(out.size() - kV2Fixed);
  out[14] = static_cast<std::uint8_t>(len >> 8);
  out[15] = static_cast<std::uint8_t>(len & 0xff);
  return out;
}

// Dotted decimal, exactly four parts 0..255, no leading zeros (spec 2.1; no octal confusion).
bool parse_v4(std::string_view s, std::array<std::uint8_t, 16>& ip) {
  for (int part = 0; part < 4; ++part) {
    const auto dot = s.find('.');
    const bool last = part == 3;
    if (last != (dot == std::string_view::npos)) return false;
    const auto digits = last ? s : s.substr(0, dot);
    if (digits.empty() || digits.size() > 3 || (digits.size() > 1 && digits.front() == '0')) return false;
    int v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ip[static_cast<std::size_t>(part)] = static_cast<std::uint8_t>(v);
    if (!last) s.remove_prefix(dot + 1);
  }
  return true;
}

}  // namespace

std::vector<std::uint8_t> encode(const Header& h) { return h.version == 1 ? encode_v1(h) : encode_v2(h); }

Header proxied(int version, Transport transport, const Address& source, const Address& destination) {
  Header h;
  h.version = version;
  h.command = Command::proxy;
  h.transport = transport;
  h.source = source;
  h.destination = destination;
  h.family = normalise(h.source, h.destination);
  return h;
}

std::string format_ip(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == Family::inet) return inet_ntop(AF_INET, a.ip.data(), buf, sizeof buf) ? buf : "";
  if (a.family == Family::inet6) return inet_ntop(AF_INET6, a.ip.data(), buf, sizeof buf) ? buf : "";
  if (a.family == Family::unix_socket) return "unix:" + a.path;
  return "unknown";
}

std::string format_address(const Address& a) {
  if (a.family == Family::inet) return fmt::format("{}:{}", format_ip(a), a.port);
  if (a.family == Family::inet6) return fmt::format("[{}]:{}", format_ip(a), a.port);
  return format_ip(a);
}

Result<Address> parse_ip(std::string_view ip, std::uint16_t port) {
  Address a;
  a.port = port;
  if (ip.find(':') == std::string_view::npos) {
    if (!parse_v4(ip, a.ip)) return make_error("'{}' is not an IPv4 address", ip);
    a.family = Family::inet;
    return a;
  }
  // inet_pton takes the RFC 4291 text forms (hex groups, one "::", a trailing dotted quad).
  if (ip.size() > 45 || ip.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
    return make_error("'{}' is not an IPv6 address", ip);
  }
  const std::string text(ip);
  if (inet_pton(AF_INET6, text.c_str(), a.ip.data()) != 1) return make_error("'{}' is not an IPv6 address", ip);
  a.family = Family::inet6;
  return a;
}

Result<Address> parse_endpoint(std::string_view hp) {
  std::string_view host, port;
  if (hp.starts_with('[')) {
    const auto close = hp.find("]:");
    if (close == std::string_view::npos) return make_error("'{}' is not [IPv6]:PORT", hp);
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    const auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return make_error("'{}' is not IP:PORT", hp);
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  std::uint32_t p = 0;
  if (port.empty() || port.size() > 5) return make_error("'{}': bad port", hp);
  for (char c : port) {
    if (c < '0' || c > '9') return make_error("'{}': bad port", hp);
    p = p * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (p > 65535) return make_error("'{}': bad port", hp);
  return parse_ip(host, static_cast<std::uint16_t>(p));
}

std::uint32_t crc32c(std::span<const std::uint8_t> bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (auto b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

}  // namespace porthole::proto::pp
