// Fuzz target: the SOCKS5 UDP request header (src/proto/socks5_udp.cpp), fed the way porthole
// meets it: the input is cut into several datagrams (each piece's size from a length byte), and
// every prefix of a piece is parsed too (a datagram cut short must never parse as a longer
// header). Checks, besides memory safety: header_size stays inside the datagram; a parsed header
// re-encodes (append_udp_header) to the same bytes and re-parses to the same fields; the host of
// an address type goes through the exit's destination check the way exit_udp.cpp does.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "policy/dest_check.hpp"
#include "proto/socks5.hpp"
#include "proto/socks5_udp.hpp"

namespace s5 = porthole::proto::socks5;

namespace {

void one(std::span<const std::uint8_t> d) {
  auto p = s5::parse_udp(d);
  for (std::size_t n = 0; n < d.size() && n < 300; ++n) {
    auto q = s5::parse_udp(d.first(n));
    if (q.status != s5::UdpStatus::malformed && q.header_size > n) __builtin_trap();
    if (p.status != s5::UdpStatus::malformed && n < p.header_size && q.status != s5::UdpStatus::malformed) __builtin_trap();
  }
  if (p.status == s5::UdpStatus::malformed) {
    if (p.error.empty()) __builtin_trap();
    return;
  }
  if (p.header_size < 7 || p.header_size > d.size()) __builtin_trap();
  if ((p.status == s5::UdpStatus::fragment) != (p.header.frag != 0)) __builtin_trap();
  if (p.header.host.empty()) __builtin_trap();
  std::vector<std::uint8_t> again;
  if (p.header.atyp == s5::kAtypDomain) {
    s5::append_udp_header(again, std::string_view(p.header.host), p.header.port);
  } else {
    const auto* a = d.data() + 4;
    s5::append_udp_header(again, std::span<const std::uint8_t>(a, p.header.atyp == s5::kAtypIpv4 ? 4 : 16), p.header.port);
  }
  again[2] = d[2];  // FRAG as sent
  if (again.size() != p.header_size || !std::equal(again.begin(), again.end(), d.begin())) __builtin_trap();
  auto r = s5::parse_udp(again);
  if (r.status != p.status || r.header.host != p.header.host || r.header.port != p.header.port) __builtin_trap();
  if (p.header.atyp != s5::kAtypDomain) {
    auto ip = porthole::policy::parse_dest_ip(p.header.host);
    if (!ip) __builtin_trap();  // an address type always gives an address
    static const auto pol = [] {
      std::string specs[] = {"0.0.0.0/0", "::/0"};
      return *porthole::policy::DestPolicy::parse(specs);
    }();
    porthole::policy::DestAddr one_addr[] = {*ip};
    auto v = pol.check("", one_addr, p.header.port);
    const auto& b = ip->ip.bytes;
    if (v.allowed && ip->v4() && (b[12] == 127 || b[12] == 0)) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  while (!in.empty()) {
    const std::size_t len = std::min<std::size_t>(in[0], in.size() - 1);
    one(in.subspan(1, len));
    in = in.subspan(1 + len);
  }
  return 0;
}
