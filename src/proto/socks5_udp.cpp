#include "proto/socks5_udp.hpp"

#include <arpa/inet.h>

#include <fmt/format.h>

#include "proto/socks5.hpp"

namespace porthole::proto::socks5 {

namespace {

UdpParsed bad(std::string why) {
  UdpParsed p;
  p.error = std::move(why);
  return p;
}

void append_port(std::vector<std::uint8_t>& out, std::uint16_t port) {
  out.push_back(static_cast<std::uint8_t>(port >> 8));
  out.push_back(static_cast<std::uint8_t>(port));
}

}  // namespace

UdpParsed parse_udp(std::span<const std::uint8_t> in) {
  if (in.size() < 4) return bad(fmt::format("a datagram of {} bytes is shorter than a SOCKS UDP header", in.size()));
  if (in[0] != 0 || in[1] != 0) return bad(fmt::format("reserved bytes {:#04x} {:#04x}, not 0", in[0], in[1]));
  std::size_t pos = 4, len = 0;
  switch (in[3]) {
    case kAtypIpv4: len = 4; break;
    case kAtypIpv6: len = 16; break;
    case kAtypDomain:
      if (in.size() < 5) return bad("a domain address without its length");
      len = in[4];
      pos = 5;
      if (len == 0) return bad("empty domain name");
      break;
    default: return bad(fmt::format("unknown address type {:#04x}", in[3]));
  }
  if (in.size() < pos + len + 2) return bad("the datagram ends inside its SOCKS UDP header");
  UdpParsed p;
  const auto* a = in.data() + pos;
  if (in[3] == kAtypIpv4) {
    p.header.host = fmt::format("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
  } else if (in[3] == kAtypIpv6) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a, buf, sizeof buf);
    p.header.host = buf;
  } else {
    for (std::size_t i = 0; i < len; ++i) {
      if (a[i] < 0x21 || a[i] == 0x7f) return bad("a control character or space in the domain name");
    }
    p.header.host.assign(reinterpret_cast<const char*>(a), len);
  }
  p.header.atyp = in[3];
  p.header.frag = in[2];
  p.header.port = static_cast<std::uint16_t>((in[pos + len] << 8) | in[pos + len + 1]);
  p.header_size = pos + len + 2;
  p.status = in[2] == 0 ? UdpStatus::ok : UdpStatus::fragment;
  return p;
}

void append_udp_header(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> ip, std::uint16_t port) {
  out.push_back(0);
  out.push_back(0);
  out.push_back(0);
  if (ip.size() == 16) {
    out.push_back(kAtypIpv6);
    out.insert(out.end(), ip.begin(), ip.end());
  } else {
    out.push_back(kAtypIpv4);
    if (ip.size() == 4) {
      out.insert(out.end(), ip.begin(), ip.end());
    } else {
      out.insert(out.end(), 4, 0);
    }
  }
  append_port(out, port);
}

void append_udp_header(std::vector<std::uint8_t>& out, std::string_view domain, std::uint16_t port) {
  if (domain.size() > 255) domain = domain.substr(0, 255);
  out.push_back(0);
  out.push_back(0);
  out.push_back(0);
  out.push_back(kAtypDomain);
  out.push_back(static_cast<std::uint8_t>(domain.size()));
  out.insert(out.end(), domain.begin(), domain.end());
  append_port(out, port);
}

}  // namespace porthole::proto::socks5
