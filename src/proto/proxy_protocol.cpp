// PROXY protocol parsing (v1 text, v2 binary). See proxy_protocol.hpp for the rules.
#include "proto/proxy_protocol.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace porthole::proto::pp {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";

ParseResult fail(Reason r, std::string message) {
  ParseResult out;
  out.status = Status::error;
  out.reason = r;
  out.message = std::move(message);
  return out;
}

ParseResult need_more() { return ParseResult{}; }

std::string_view as_text(std::span<const std::uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// A decimal port: 1 to 5 digits, no leading zero (except "0"), at most 65535.
bool parse_port_text(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s.front() == '0')) return false;
  std::uint32_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (v > 65535) return false;
  out = static_cast<std::uint16_t>(v);
  return true;
}

// Splits the addresses part of a TCP4/TCP6 line: exactly four fields, single spaces.
bool split4(std::string_view s, std::array<std::string_view, 4>& f) {
  for (std::size_t i = 0; i < 4; ++i) {
    const auto sp = s.find(' ');
    const bool last = i == 3;
    if (last != (sp == std::string_view::npos)) return false;
    f[i] = last ? s : s.substr(0, sp);
    if (f[i].empty()) return false;
    if (!last) s.remove_prefix(sp + 1);
  }
  return true;
}

ParseResult parse_v1(std::span<const std::uint8_t> b) {
  const auto text = as_text(b);
  const auto m = std::min(text.size(), kV1Prefix.size());
  if (text.substr(0, m) != kV1Prefix.substr(0, m)) {
    return fail(Reason::not_proxy, "the connection does not start with a PROXY protocol header");
  }
  // The line ends with CRLF within the first 107 bytes (the CR at index 105 at the latest).
  std::size_t end = std::string_view::npos;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\r') {
      if (i + 1 == text.size()) break;  // the LF may follow
      if (text[i + 1] != '\n') return fail(Reason::v1_syntax, "PROXY v1: a CR not followed by LF");
      end = i;
      break;
    }
    if (c == '\n') return fail(Reason::v1_syntax, "PROXY v1: a bare LF (the line must end with CRLF)");
    if (c < 0x20 || c > 0x7e) return fail(Reason::v1_syntax, fmt::format("PROXY v1: byte 0x{:02x} in the line", c));
    if (i + 2 >= kV1MaxLine) {
      return fail(Reason::v1_too_long, fmt::format("PROXY v1: no CRLF within {} bytes", kV1MaxLine));
    }
  }
  if (end == std::string_view::npos) return need_more();
  auto line = text.substr(kV1Prefix.size(), end - kV1Prefix.size());
  ParseResult out;
  out.status = Status::done;
  out.consumed = end + 2;
  out.header.version = 1;
  out.header.transport = Transport::stream;
  // UNKNOWN: whatever follows up to the CRLF is ignored (spec 2.1).
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) {
    out.header.family = Family::unspec;
    return out;
  }
  Family fam;
  if (line.starts_with("TCP4 ")) {
    fam = Family::inet;
  } else if (line.starts_with("TCP6 ")) {
    fam = Family::inet6;
  } else {
    const auto proto = line.substr(0, line.find(' '));
    return fail(Reason::v1_syntax, fmt::format("PROXY v1: unknown protocol '{}' (TCP4, TCP6 or UNKNOWN)", proto));
  }
  line.remove_prefix(5);
  std::array<std::string_view, 4> f;
  if (!split4(line, f)) {
    return fail(Reason::v1_syntax, "PROXY v1: expected 'SRC DST SPORT DPORT' separated by single spaces");
  }
  const char* fam_name = fam == Family::inet ? "TCP4" : "TCP6";
  for (int i = 0; i < 2; ++i) {
    auto a = parse_ip(f[static_cast<std::size_t>(i)]);
    if (!a || a->family != fam) {
      return fail(Reason::v1_address, fmt::format("PROXY v1: '{}' is not a canonical {} address for {}",
                                                  f[static_cast<std::size_t>(i)],
                                                  fam == Family::inet ? "IPv4" : "IPv6", fam_name));
    }
    (i == 0 ? out.header.source : out.header.destination) = *a;
  }
  if (!parse_port_text(f[2], out.header.source.port) || !parse_port_text(f[3], out.header.destination.port)) {
    return fail(Reason::v1_syntax,
                fmt::format("PROXY v1: ports '{}' '{}' must be 0..65535 without leading zeros", f[2], f[3]));
  }
  out.header.family = fam;
  return out;
}

std::size_t address_block_size(Family f) {
  switch (f) {
    case Family::inet: return 12;
    case Family::inet6: return 36;
    case Family::unix_socket: return 216;
    case Family::unspec: break;
  }
  return 0;
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

void read_addresses(const std::uint8_t* p, Family fam, Header& h) {
  h.source.family = h.destination.family = fam;
  if (fam == Family::inet || fam == Family::inet6) {
    const std::size_t n = fam == Family::inet ? 4 : 16;
    std::memcpy(h.source.ip.data(), p, n);
    std::memcpy(h.destination.ip.data(), p + n, n);
    h.source.port = be16(p + 2 * n);
    h.destination.port = be16(p + 2 * n + 2);
  } else if (fam == Family::unix_socket) {
    for (int i = 0; i < 2; ++i) {
      const auto* s = reinterpret_cast<const char*>(p + 108 * i);
      (i == 0 ? h.source : h.destination).path.assign(s, strnlen(s, 108));
    }
  }
}

// TLVs from `pos` to `total`: each fits, NOOPs are dropped, a CRC32C is checked.
ParseResult read_tlvs(std::span<const std::uint8_t> b, std::size_t pos, std::size_t total, ParseResult& out) {
  while (pos < total) {
    if (total - pos < 3) {
      return fail(Reason::v2_tlv, fmt::format("PROXY v2: {} byte(s) after the last TLV, too short for one", total - pos));
    }
    const std::uint8_t type = b[pos];
    const std::size_t len = be16(&b[pos + 1]);
    if (pos + 3 + len > total) {
      return fail(Reason::v2_tlv, fmt::format("PROXY v2: TLV type 0x{:02x} of {} bytes runs past the header ({} left)",
                                              type, len, total - pos - 3));
    }
    const auto value = b.subspan(pos + 3, len);
    if (type == kTlvCrc32c) {
      if (len != 4) return fail(Reason::v2_tlv, fmt::format("PROXY v2: CRC32C TLV of {} bytes (must be 4)", len));
      std::vector<std::uint8_t> copy(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(total));
      std::fill_n(copy.begin() + static_cast<std::ptrdiff_t>(pos + 3), 4, std::uint8_t{0});
      const std::uint32_t want = (std::uint32_t{value[0]} << 24) | (std::uint32_t{value[1]} << 16) |
                                 (std::uint32_t{value[2]} << 8) | value[3];
      if (crc32c(copy) != want) return fail(Reason::v2_checksum, "PROXY v2: the CRC32C TLV does not match the header");
    }
    if (type != kTlvNoop) out.header.tlvs.push_back(Tlv{type, {value.begin(), value.end()}});
    pos += 3 + len;
  }
  return out;
}

ParseResult parse_v2(std::span<const std::uint8_t> b, const Limits& limits) {
  const auto m = std::min(b.size(), kV2Signature.size());
  if (!std::equal(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(m), kV2Signature.begin())) {
    return fail(Reason::not_proxy, "the connection does not start with a PROXY protocol header");
  }
  if (b.size() > 12) {
    if ((b[12] >> 4) != 2) return fail(Reason::v2_version, fmt::format("PROXY v2: version {} (must be 2)", b[12] >> 4));
    if ((b[12] & 0xF) > 1) {
      return fail(Reason::v2_command, fmt::format("PROXY v2: command 0x{:x} (LOCAL 0 or PROXY 1)", b[12] & 0xF));
    }
  }
  if (b.size() > 13 && ((b[13] >> 4) > 3 || (b[13] & 0xF) > 2)) {
    return fail(Reason::v2_family, fmt::format("PROXY v2: unknown family/transport byte 0x{:02x}", b[13]));
  }
  if (b.size() < kV2Fixed) return need_more();
  const std::size_t total = kV2Fixed + be16(&b[14]);
  if (total > limits.max_v2_bytes) {
    return fail(Reason::too_large, fmt::format("PROXY v2: a {}-byte header (this receiver takes at most {})", total,
                                               limits.max_v2_bytes));
  }
  if (b.size() < total) return need_more();
  ParseResult out;
  out.status = Status::done;
  out.consumed = total;
  auto& h = out.header;
  h.version = 2;
  h.command = static_cast<Command>(b[12] & 0xF);
  const auto fam = static_cast<Family>(b[13] >> 4);
  h.transport = static_cast<Transport>(b[13] & 0xF);
  const auto need = address_block_size(fam);
  if (total - kV2Fixed < need) {
    if (h.command == Command::local) {  // LOCAL: the address block is ignored whatever it says
      h.transport = Transport::unspec;
      return out;
    }
    return fail(Reason::v2_address, fmt::format("PROXY v2: an address block of {} bytes, family {} needs {}",
                                                total - kV2Fixed, static_cast<int>(fam), need));
  }
  h.family = fam;
  read_addresses(&b[kV2Fixed], fam, h);
  return read_tlvs(b, kV2Fixed + need, total, out);
}

}  // namespace

std::string_view reason_name(Reason r) {
  switch (r) {
    case Reason::none: return "none";
    case Reason::not_proxy: return "not_proxy";
    case Reason::v1_too_long: return "v1_too_long";
    case Reason::v1_syntax: return "v1_syntax";
    case Reason::v1_address: return "v1_address";
    case Reason::v2_version: return "v2_version";
    case Reason::v2_command: return "v2_command";
    case Reason::v2_family: return "v2_family";
    case Reason::v2_address: return "v2_address";
    case Reason::v2_tlv: return "v2_tlv";
    case Reason::v2_checksum: return "v2_checksum";
    case Reason::too_large: return "too_large";
  }
  return "unknown";
}

ParseResult parse(std::span<const std::uint8_t> bytes, const Limits& limits) {
  if (bytes.empty()) return need_more();
  if (bytes[0] == 'P') return parse_v1(bytes);
  if (bytes[0] == kV2Signature[0]) return parse_v2(bytes, limits);
  return fail(Reason::not_proxy, fmt::format("the connection does not start with a PROXY protocol header (first byte "
                                             "0x{:02x})",
                                             bytes[0]));
}

}  // namespace porthole::proto::pp
