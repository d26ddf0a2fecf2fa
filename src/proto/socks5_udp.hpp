// The SOCKS5 UDP request header (RFC 1928 section 7), sans-I/O: every datagram between a SOCKS
// client and `porthole socks` starts with it, and the same bytes travel on to the exit inside
// the DATAGRAM frames of a UDP association stream (docs/protocol.md), so the exit parses it
// with this codec too.
//
//   +-----+------+------+----------+----------+----------+
//   | RSV | FRAG | ATYP | DST.ADDR | DST.PORT |   DATA   |
//   +-----+------+------+----------+----------+----------+
//   |  2  |  1   |  1   | Variable |    2     | Variable |
//
// RSV must be 0; FRAG != 0 (fragmentation, which porthole does not implement: RFC 1928 lets a
// server drop those) is reported apart so the caller can count it; ATYP 1 (IPv4), 3 (domain: a
// length byte and 1-255 printable bytes), 4 (IPv6). A whole datagram per call: there is no
// "need more" (UDP never splits a datagram).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace porthole::proto::socks5 {

struct UdpHeader {
  std::uint8_t frag = 0;
  std::uint8_t atyp = 0;
  std::string host;  // dotted IPv4, IPv6 text (no brackets), or the domain name as sent
  std::uint16_t port = 0;
};

enum class UdpStatus {
  ok,
  fragment,   // a well-formed header with FRAG != 0: drop, count
  malformed,  // short, RSV != 0, unknown ATYP, empty or non-printable domain
};

struct UdpParsed {
  UdpStatus status = UdpStatus::malformed;
  std::size_t header_size = 0;  // ok / fragment: DATA starts here
  UdpHeader header;
  std::string error;            // malformed: why, for logs
};

UdpParsed parse_udp(std::span<const std::uint8_t> datagram);

// Appends RSV(0) FRAG(0) ATYP ADDR PORT for an address of 4 (IPv4) or 16 (IPv6) bytes.
void append_udp_header(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> ip, std::uint16_t port);
// The same for a domain name (1-255 bytes; longer is cut, a caller passes only valid names).
void append_udp_header(std::vector<std::uint8_t>& out, std::string_view domain, std::uint16_t port);

}  // namespace porthole::proto::socks5
