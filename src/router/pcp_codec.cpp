#include "router/pcp_codec.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace porthole::router::pcp {
namespace {

void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<std::uint8_t>((v >> shift) & 0xff));
}

template <std::size_t N>
void put_bytes(std::vector<std::uint8_t>& b, const std::array<std::uint8_t, N>& a) {
  b.insert(b.end(), a.begin(), a.end());
}

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
         (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
}

template <std::size_t N>
std::array<std::uint8_t, N> get_bytes(std::span<const std::uint8_t> b, std::size_t at) {
  std::array<std::uint8_t, N> a{};
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), N, a.begin());
  return a;
}

void put_header(std::vector<std::uint8_t>& b, Opcode op, std::uint32_t lifetime, const Ip16& client) {
  b.push_back(kVersion);
  b.push_back(static_cast<std::uint8_t>(op));  // R bit clear: request
  put16(b, 0);                                  // reserved
  put32(b, lifetime);
  put_bytes(b, client);
}

// Options follow the opcode data: code(1) reserved(1) length(2) data(length, padded to 4).
Result<void> check_options(std::span<const std::uint8_t> b, std::size_t at) {
  while (at < b.size()) {
    if (b.size() - at < 4) return make_error("truncated PCP option header at byte {}", at);
    std::size_t len = get16(b, at + 2);
    std::size_t padded = (len + 3) & ~std::size_t{3};
    if (b.size() - at - 4 < padded) return make_error("PCP option at byte {} runs past the end", at);
    at += 4 + padded;
  }
  return {};
}

bool all_zero(const Ip16& ip) {
  return std::all_of(ip.begin(), ip.end(), [](std::uint8_t x) { return x == 0; });
}

}  // namespace

std::vector<std::uint8_t> encode_announce(const Ip16& client_ip) {
  std::vector<std::uint8_t> b;
  b.reserve(kHeaderSize);
  put_header(b, Opcode::announce, 0, client_ip);
  return b;
}

std::vector<std::uint8_t> encode_map(const MapRequest& req) {
  std::vector<std::uint8_t> b;
  b.reserve(kHeaderSize + kMapDataSize);
  put_header(b, Opcode::map, req.lifetime, req.client_ip);
  put_bytes(b, req.nonce);
  b.push_back(req.protocol);
  b.push_back(0);
  put16(b, 0);  // 24 reserved bits
  put16(b, req.internal_port);
  put16(b, req.suggested_external_port);
  put_bytes(b, req.suggested_external_ip);
  return b;
}

Result<Response> decode_response(std::span<const std::uint8_t> b) {
  if (b.size() < 2) return make_error("truncated PCP reply ({} bytes)", b.size());
  if (b[0] == 0) {
    return make_error("router answered with NAT-PMP (version 0), not PCP: it does not speak PCP");
  }
  if (b[0] != kVersion) return make_error("PCP reply has unsupported version {}", b[0]);
  if (b.size() < kHeaderSize) return make_error("truncated PCP reply ({} bytes, need 24)", b.size());
  if (b.size() > kMaxMessage) return make_error("oversized PCP reply ({} bytes)", b.size());
  if (b.size() % 4 != 0) return make_error("PCP reply length {} is not a multiple of 4", b.size());
  if ((b[1] & 0x80) == 0) return make_error("PCP message is a request, not a reply");
  std::uint8_t op = b[1] & 0x7f;
  if (op > static_cast<std::uint8_t>(Opcode::peer)) return make_error("PCP reply has unknown opcode {}", op);
  Response r;
  r.opcode = static_cast<Opcode>(op);
  r.result = b[3];
  r.lifetime = get32(b, 4);
  r.epoch = get32(b, 8);
  std::size_t at = kHeaderSize;
  if (r.opcode == Opcode::map) {
    if (b.size() < kHeaderSize + kMapDataSize) {
      // Error replies may come without opcode data; a success must carry it.
      if (r.result == 0) return make_error("truncated PCP MAP reply ({} bytes, need 60)", b.size());
      return r;
    }
    MapData m;
    m.nonce = get_bytes<12>(b, at);
    m.protocol = b[at + 12];
    m.internal_port = get16(b, at + 16);
    m.external_port = get16(b, at + 18);
    m.external_ip = get_bytes<16>(b, at + 20);
    r.map = m;
    at += kMapDataSize;
  } else if (r.opcode == Opcode::peer) {
    return make_error("unexpected PCP PEER reply (porthole sends no PEER requests)");
  }
  if (auto o = check_options(b, at); !o) return o.error();
  return r;
}

Result<MapData> match_map_reply(const Response& resp, const MapRequest& req) {
  if (resp.opcode != Opcode::map) return make_error("PCP reply is not for a MAP request");
  if (resp.map && resp.map->nonce != req.nonce) return make_error("PCP reply has a wrong nonce");
  if (resp.result != 0) return make_error("{}", result_text(resp.result));
  if (!resp.map) return make_error("PCP MAP reply without mapping data");
  const MapData& m = *resp.map;
  if (m.protocol != req.protocol) {
    return make_error("PCP reply is for protocol {}, asked {}", m.protocol, req.protocol);
  }
  if (m.internal_port != req.internal_port) {
    return make_error("PCP reply is for internal port {}, asked {}", m.internal_port, req.internal_port);
  }
  if (req.lifetime != 0 && (m.external_port == 0 || resp.lifetime == 0)) {
    return make_error("PCP reply grants no external port or lifetime");
  }
  return m;
}

std::string result_text(std::uint8_t code) {
  std::string_view name, why;
  switch (code) {
    case 0: name = "SUCCESS"; why = "ok"; break;
    case 1: name = "UNSUPP_VERSION"; why = "the router does not speak PCP version 2"; break;
    case 2: name = "NOT_AUTHORIZED"; why = "the router's policy does not allow this mapping"; break;
    case 3: name = "MALFORMED_REQUEST"; why = "the router could not parse the request"; break;
    case 4: name = "UNSUPP_OPCODE"; why = "the router does not support this PCP operation"; break;
    case 5: name = "UNSUPP_OPTION"; why = "the router does not support a mandatory option"; break;
    case 6: name = "MALFORMED_OPTION"; why = "the router could not parse an option"; break;
    case 7: name = "NETWORK_FAILURE"; why = "the router has no usable external address right now"; break;
    case 8: name = "NO_RESOURCES"; why = "the router is out of mappings or memory"; break;
    case 9: name = "UNSUPP_PROTOCOL"; why = "the router does not map this protocol"; break;
    case 10: name = "USER_EX_QUOTA"; why = "this host has used up its mapping quota"; break;
    case 11: name = "CANNOT_PROVIDE_EXTERNAL"; why = "the requested external port or address is taken"; break;
    case 12: name = "ADDRESS_MISMATCH"; why = "the router sees another source address (a NAT in between?)"; break;
    case 13: name = "EXCESSIVE_REMOTE_PEERS"; why = "too many remote peers"; break;
    default: return fmt::format("unknown PCP result {}", code);
  }
  return fmt::format("{}: {} (PCP result {})", name, why, code);
}

bool result_is_transient(std::uint8_t code) { return code == 7 || code == 8 || code == 10; }

Result<Ip16> ipv4_mapped(std::string_view dotted) {
  Ip16 ip{};
  ip[10] = 0xff;
  ip[11] = 0xff;
  std::size_t at = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(dotted.data() + at, dotted.data() + dotted.size(), v);
    std::size_t used = static_cast<std::size_t>(p - (dotted.data() + at));
    if (ec != std::errc() || used == 0 || used > 3 || v > 255) {
      return make_error("'{}' is not an IPv4 address", dotted);
    }
    ip[12 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
    at += used;
    if (i < 3) {
      if (at >= dotted.size() || dotted[at] != '.') return make_error("'{}' is not an IPv4 address", dotted);
      ++at;
    }
  }
  if (at != dotted.size()) return make_error("'{}' is not an IPv4 address", dotted);
  return ip;
}

std::string format_ip(const Ip16& ip) {
  if (all_zero(ip)) return "";
  bool mapped = std::all_of(ip.begin(), ip.begin() + 10, [](std::uint8_t x) { return x == 0; }) &&
                ip[10] == 0xff && ip[11] == 0xff;
  if (mapped) return fmt::format("{}.{}.{}.{}", ip[12], ip[13], ip[14], ip[15]);
  std::string s;
  for (std::size_t i = 0; i < 16; i += 2) {
    if (i) s += ':';
    s += fmt::format("{:x}", (ip[i] << 8) | ip[i + 1]);
  }
  return s;
}

}  // namespace porthole::router::pcp
