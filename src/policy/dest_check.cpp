#include "policy/dest_check.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "core/hostname.hpp"

namespace porthole::policy {

namespace {

bool is_mapped(const Ip& ip) {
  for (int i = 0; i < 10; ++i) {
    if (ip.bytes[static_cast<std::size_t>(i)] != 0) return false;
  }
  return ip.bytes[10] == 0xff && ip.bytes[11] == 0xff;
}

Ip mapped_v4(std::uint32_t v) {
  Ip ip;
  ip.bytes[10] = 0xff;
  ip.bytes[11] = 0xff;
  ip.bytes[12] = static_cast<std::uint8_t>(v >> 24);
  ip.bytes[13] = static_cast<std::uint8_t>(v >> 16);
  ip.bytes[14] = static_cast<std::uint8_t>(v >> 8);
  ip.bytes[15] = static_cast<std::uint8_t>(v);
  return ip;
}

std::uint32_t low32(const Ip& ip) {
  return (std::uint32_t{ip.bytes[12]} << 24) | (std::uint32_t{ip.bytes[13]} << 16) |
         (std::uint32_t{ip.bytes[14]} << 8) | std::uint32_t{ip.bytes[15]};
}

// One part of an inet_aton-style IPv4 address: decimal, 0octal or 0xhex; nullopt if not.
std::optional<std::uint64_t> aton_part(std::string_view p) {
  if (p.empty()) return std::nullopt;
  int base = 10;
  if (p.size() >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p.remove_prefix(2);
    if (p.empty()) return std::nullopt;
  } else if (p.size() >= 2 && p[0] == '0') {
    base = 8;
    p.remove_prefix(1);
  }
  std::uint64_t v = 0;
  for (char c : p) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0 || d >= base) return std::nullopt;
    v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    if (v > 0xffffffffULL) return std::nullopt;
  }
  return v;
}

std::optional<std::uint32_t> parse_aton(std::string_view text) {
  std::uint64_t parts[4];
  std::size_t n = 0;
  while (true) {
    const auto dot = text.find('.');
    if (n == 4) return std::nullopt;
    auto v = aton_part(text.substr(0, dot));
    if (!v) return std::nullopt;
    parts[n++] = *v;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  std::uint64_t out = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (parts[i] > 255) return std::nullopt;
    out |= parts[i] << (24 - 8 * i);
  }
  const std::uint64_t last_max = n == 1 ? 0xffffffffULL : n == 2 ? 0xffffffULL : n == 3 ? 0xffffULL : 0xffULL;
  if (parts[n - 1] > last_max) return std::nullopt;
  return static_cast<std::uint32_t>(out | parts[n - 1]);
}

bool zone_ok(std::string_view z) {
  if (z.empty() || z.size() > 15) return false;
  return std::all_of(z.begin(), z.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  });
}

struct Special {
  std::uint8_t net[16];
  int prefix;
  const char* code;
  const char* what;
};

// Most specific first within a family.
constexpr Special kSpecial[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 255, 255, 255, 255}, 128, "broadcast", "the broadcast address"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}, 104, "unspecified", "an unspecified (0.0.0.0/8) address"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 0}, 104, "loopback", "a loopback address"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 169, 254, 0, 0}, 112, "link_local", "a link-local address"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 224, 0, 0, 0}, 100, "multicast", "a multicast address"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 240, 0, 0, 0}, 100, "reserved", "a reserved (240.0.0.0/4) address"},
    {{0}, 128, "unspecified", "the unspecified address"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback", "a loopback address"},
    {{0xfe, 0x80}, 10, "link_local", "a link-local address"},
    {{0xff}, 8, "multicast", "a multicast address"},
    {{0xfe, 0xc0}, 10, "reserved", "a site-local (fec0::/10, deprecated) address"},
    {{0}, 96, "reserved", "an IPv4-compatible (::/96) address"},
};

bool in_prefix(const Ip& ip, const std::uint8_t* net, int prefix) {
  const int full = prefix / 8;
  if (std::memcmp(ip.bytes.data(), net, static_cast<std::size_t>(full)) != 0) return false;
  if (prefix % 8 == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - prefix % 8));
  return (ip.bytes[static_cast<std::size_t>(full)] & mask) == (net[full] & mask);
}

const Special* classify(const Ip& ip) {
  for (const auto& s : kSpecial) {
    if (in_prefix(ip, s.net, s.prefix)) return &s;
  }
  return nullptr;
}

constexpr std::uint8_t kNat64[16] = {0x00, 0x64, 0xff, 0x9b};

Result<std::uint16_t> parse_port(std::string_view p) {
  if (p.empty() || p.size() > 5) return make_error("'{}' is not a port", p);
  std::uint32_t v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return make_error("'{}' is not a port", p);
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return make_error("port {} is out of range 1-65535", p);
  return static_cast<std::uint16_t>(v);
}

}  // namespace

bool DestAddr::v4() const { return is_mapped(ip); }

std::string DestAddr::text() const {
  char buf[INET6_ADDRSTRLEN];
  if (v4()) {
    inet_ntop(AF_INET, ip.bytes.data() + 12, buf, sizeof buf);
    return buf;
  }
  inet_ntop(AF_INET6, ip.bytes.data(), buf, sizeof buf);
  return zone.empty() ? std::string(buf) : std::string(buf) + "%" + zone;
}

std::optional<DestAddr> parse_dest_ip(std::string_view text) {
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() > 80) return std::nullopt;
  if (text.find(':') == std::string_view::npos) {
    auto v = parse_aton(text);
    if (!v) return std::nullopt;
    return DestAddr{mapped_v4(*v), ""};
  }
  DestAddr a;
  if (auto pct = text.find('%'); pct != std::string_view::npos) {
    a.zone = std::string(text.substr(pct + 1));
    if (!zone_ok(a.zone)) return std::nullopt;
    text = text.substr(0, pct);
  }
  if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) != 1) return std::nullopt;
  std::memcpy(a.ip.bytes.data(), &v6, 16);
  // ::a.b.c.d (IPv4-compatible, deprecated) and ::ffff:0:a.b.c.d (IPv4-translated) are IPv4.
  bool zero12 = std::all_of(a.ip.bytes.begin(), a.ip.bytes.begin() + 12, [](std::uint8_t b) { return b == 0; });
  static constexpr std::uint8_t kTranslated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
  const bool translated = std::memcmp(a.ip.bytes.data(), kTranslated, 12) == 0;
  if ((zero12 && low32(a.ip) > 1) || translated || is_mapped(a.ip)) {
    a.ip = mapped_v4(low32(a.ip));
    a.zone.clear();
  }
  return a;
}

bool DestPolicy::Entry::covers_port(std::uint16_t port) const {
  if (ports.empty()) return true;
  return std::any_of(ports.begin(), ports.end(), [port](const PortRange& r) { return port >= r.lo && port <= r.hi; });
}

bool DestPolicy::Entry::covers(const Ip& ip) const { return !is_name && in_prefix(ip, net.bytes.data(), prefix); }

Result<DestPolicy> DestPolicy::parse(std::span<const std::string> specs) {
  DestPolicy p;
  for (const auto& spec_str : specs) {
    std::string_view spec = spec_str;
    Entry e;
    e.spec = spec_str;
    std::string_view host, ports;
    if (spec.empty()) return make_error("--allow-dest: an empty entry");
    if (spec.front() == '[') {
      auto close = spec.find(']');
      if (close == std::string_view::npos) return make_error("--allow-dest {}: no ']'", spec);
      host = spec.substr(1, close - 1);
      auto rest = spec.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') return make_error("--allow-dest {}: ':PORTS' expected after ']'", spec);
        ports = rest.substr(1);
        if (ports.empty()) return make_error("--allow-dest {}: no ports after ':'", spec);
      }
    } else if (std::count(spec.begin(), spec.end(), ':') >= 2) {
      host = spec;  // IPv6 without ports
    } else if (auto colon = spec.find(':'); colon != std::string_view::npos) {
      host = spec.substr(0, colon);
      ports = spec.substr(colon + 1);
      if (ports.empty()) return make_error("--allow-dest {}: no ports after ':'", spec);
    } else {
      host = spec;
    }
    if (host.empty()) return make_error("--allow-dest {}: no address or host name", spec);
    while (!ports.empty()) {
      auto comma = ports.find(',');
      auto item = ports.substr(0, comma);
      ports = comma == std::string_view::npos ? std::string_view{} : ports.substr(comma + 1);
      if (comma != std::string_view::npos && ports.empty()) return make_error("--allow-dest {}: a trailing ','", spec);
      auto dash = item.find('-');
      auto lo = parse_port(item.substr(0, dash));
      if (!lo) return make_error("--allow-dest {}: {}", spec, lo.error().message);
      auto hi = lo;
      if (dash != std::string_view::npos) {
        hi = parse_port(item.substr(dash + 1));
        if (!hi) return make_error("--allow-dest {}: {}", spec, hi.error().message);
        if (*hi < *lo) return make_error("--allow-dest {}: range {} is backwards", spec, item);
      }
      e.ports.push_back({*lo, *hi});
    }
    if (auto slash = host.find('/'); slash != std::string_view::npos) {
      auto addr_text = host.substr(0, slash);
      auto a = parse_dest_ip(addr_text);
      if (!a) return make_error("--allow-dest {}: '{}' is not an IP address", spec, addr_text);
      const bool written_v4 = addr_text.find(':') == std::string_view::npos;
      auto n = parse_port(host.substr(slash + 1));  // digits, 1..; 0 is handled below
      int len = 0;
      if (host.substr(slash + 1) == "0") {
        len = 0;
      } else if (!n) {
        return make_error("--allow-dest {}: bad prefix length", spec);
      } else {
        len = *n;
      }
      if (len > (written_v4 ? 32 : 128)) return make_error("--allow-dest {}: prefix length {} is too long", spec, len);
      e.prefix = written_v4 ? 96 + len : len;
      e.net = a->ip;
      for (int bit = e.prefix; bit < 128; ++bit) {
        e.net.bytes[static_cast<std::size_t>(bit / 8)] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
      }
    } else if (auto a = parse_dest_ip(host)) {
      e.net = a->ip;
      e.prefix = 128;
    } else {
      auto name = normalize_hostname(host, true);
      if (!name) return make_error("--allow-dest {}: '{}' is neither an address nor a host name: {}", spec, host,
                                   name.error().message);
      e.is_name = true;
      e.name = std::move(*name);
    }
    p.entries_.push_back(std::move(e));
  }
  return p;
}

std::string DestPolicy::describe() const {
  std::string out;
  for (const auto& e : entries_) out += (out.empty() ? "" : " ") + e.spec;
  return out.empty() ? "nothing" : out;
}

DestVerdict DestPolicy::check_one(bool name_ok, const DestAddr& a, std::uint16_t port) const {
  const Special* special = classify(a.ip);
  int need_prefix = special ? special->prefix : 0;
  const char* code = special ? special->code : nullptr;
  const char* what = special ? special->what : nullptr;
  if (special == nullptr &&
      std::find_if(own_.begin(), own_.end(), [&](const Ip& o) { return o.bytes == a.ip.bytes; }) != own_.end()) {
    need_prefix = 128;
    code = "own_address";
    what = "one of this exit's own addresses";
  }
  if (in_prefix(a.ip, kNat64, 96)) {  // NAT64: the IPv4 address inside must pass as well
    auto inner = check_one(name_ok, DestAddr{mapped_v4(low32(a.ip)), ""}, port);
    if (!inner.allowed) return inner;
  }
  const bool cidr_ok = std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.covers(a.ip) && e.covers_port(port) && e.prefix >= need_prefix;
  });
  if (cidr_ok || (code == nullptr && name_ok)) return {true, "", ""};
  if (code != nullptr) {
    return {false, code,
            fmt::format("{} is {}: refused unless --allow-dest lists it (e.g. {}:{})", a.text(), what,
                        a.v4() ? a.text() : "[" + a.text() + "]", port)};
  }
  return {false, "not_allowed", fmt::format("{} port {} is not allowed by --allow-dest ({})", a.text(), port, describe())};
}

DestVerdict DestPolicy::check(std::string_view host, std::span<const DestAddr> addrs, std::uint16_t port) const {
  if (port == 0) return {false, "bad_port", "port 0 is not a destination"};
  if (addrs.empty()) return {false, "no_address", fmt::format("{} resolved to no address", host)};
  bool name_ok = false;
  if (!host.empty()) {
    name_ok = std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
      return e.is_name && e.covers_port(port) && hostname_matches(e.name, host);
    });
  }
  for (const auto& a : addrs) {
    auto v = check_one(name_ok, a, port);
    if (!v.allowed) {
      if (!host.empty()) v.reason = fmt::format("{} resolves to {}: {}", host, a.text(), v.reason);
      return v;
    }
  }
  return {true, "", ""};
}

Result<HostAndPort> split_dest(std::string_view target) {
  std::string_view host, port;
  if (!target.empty() && target.front() == '[') {
    auto close = target.find(']');
    if (close == std::string_view::npos || close + 1 >= target.size() || target[close + 1] != ':') {
      return make_error("'{}' is not [IPV6]:PORT", target);
    }
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    auto colon = target.rfind(':');
    if (colon == std::string_view::npos) return make_error("'{}' has no port", target);
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return make_error("'{}': an IPv6 address needs [brackets]", target);
  }
  if (host.empty()) return make_error("'{}' has no host", target);
  auto p = parse_port(port);
  if (!p) return make_error("'{}': {}", target, p.error().message);
  return HostAndPort{std::string(host), *p};
}

std::string join_dest(std::string_view host, std::uint16_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace porthole::policy
