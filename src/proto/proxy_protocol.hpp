// The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy's specification defines it
// (doc/proxy-protocol.txt): a header a proxy puts in front of a connection's bytes to say whose
// connection it is. Sans-I/O: parse() looks at the bytes received so far and says "need more",
// "done (header, bytes consumed)" or "error (reason)"; encode() makes a header. No sockets.
//
// Strict, as the specification asks of receivers: v1 is one line of at most 107 bytes ending in
// CRLF, single spaces, canonical addresses and ports without leading zeros; v2 has the 12-byte
// signature, version 2, command LOCAL or PROXY, a known family and transport, an address block
// long enough for its family, and TLVs that fill the rest exactly (a CRC32C TLV is verified).
// The first byte that cannot start or continue a valid header is an error at once, so a peer
// that sends something else is told at its first read.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::proto::pp {

enum class Command : std::uint8_t { local = 0, proxy = 1 };
enum class Family : std::uint8_t { unspec = 0, inet = 1, inet6 = 2, unix_socket = 3 };
enum class Transport : std::uint8_t { unspec = 0, stream = 1, dgram = 2 };

// One end of the proxied connection. IPv4 uses the first 4 bytes of `ip`.
struct Address {
  Family family = Family::unspec;
  std::array<std::uint8_t, 16> ip{};
  std::uint16_t port = 0;
  std::string path;  // AF_UNIX: the socket path (up to its first NUL)
  friend bool operator==(const Address&, const Address&) = default;
};

// Registered TLV types (spec 2.2).
inline constexpr std::uint8_t kTlvAlpn = 0x01, kTlvAuthority = 0x02, kTlvCrc32c = 0x03, kTlvNoop = 0x04,
                              kTlvUniqueId = 0x05, kTlvSsl = 0x20, kTlvNetns = 0x30;

struct Tlv {
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
  friend bool operator==(const Tlv&, const Tlv&) = default;
};

struct Header {
  int version = 2;  // 1 or 2
  Command command = Command::proxy;
  Family family = Family::unspec;  // v1: inet (TCP4), inet6 (TCP6) or unspec (UNKNOWN)
  Transport transport = Transport::stream;
  Address source, destination;
  std::vector<Tlv> tlvs;  // v2, in order; NOOP TLVs are skipped, a checked CRC32C is kept
  // The header names the real endpoints (PROXY over INET/INET6/UNIX with a known transport).
  // Otherwise (LOCAL, UNSPEC, v1 UNKNOWN) the receiver uses the connection's own addresses.
  bool has_addresses() const {
    return command == Command::proxy && family != Family::unspec && transport != Transport::unspec;
  }
  friend bool operator==(const Header&, const Header&) = default;
};

inline constexpr std::size_t kV1MaxLine = 107;  // "PROXY UNKNOWN ffff:…:ffff ffff:…:ffff 65535 65535\r\n"
inline constexpr std::size_t kV2Fixed = 16;     // signature, ver/cmd, family, length
inline constexpr std::array<std::uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                             0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

struct Limits {
  std::size_t max_v2_bytes = 4096;  // a whole v2 header (16 + length); the spec allows 16 + 65535
};

enum class Status { need_more, done, error };

// Why a header was refused; `reason_name()` gives the counter label.
enum class Reason {
  none,
  not_proxy,      // the bytes are not a PROXY header at all (neither signature)
  v1_too_long,    // no CRLF within 107 bytes
  v1_syntax,      // spaces, line ending, protocol or port syntax
  v1_address,     // an address not canonical for its family
  v2_version,     // version nibble other than 2
  v2_command,     // command other than LOCAL/PROXY
  v2_family,      // unknown family or transport
  v2_address,     // address block shorter than its family needs
  v2_tlv,         // a TLV runs past the header, or a malformed one
  v2_checksum,    // CRC32C TLV does not match
  too_large,      // v2 header longer than Limits::max_v2_bytes
};
std::string_view reason_name(Reason r);

struct ParseResult {
  Status status = Status::need_more;
  Header header;           // when done
  std::size_t consumed = 0;  // when done: the header's length; bytes after it are the payload
  Reason reason = Reason::none;
  std::string message;  // when error: precise, for logs
};

// Parses a header at the start of `bytes` (everything received so far on the connection).
// Call again with more bytes after need_more. Never reads past `bytes`, never allocates for a
// claimed length before the bytes are there.
ParseResult parse(std::span<const std::uint8_t> bytes, const Limits& limits = {});

// Encodes `h` as version h.version. v1: TCP4/TCP6 from the addresses (an IPv4 and an IPv6 end
// are written as TCP6 with the IPv4 one mapped; IPv4-mapped pairs as TCP4), "PROXY UNKNOWN"
// when the header has no INET addresses or is not a stream. v2: exactly the fields given
// (addresses normalised the same way), TLVs appended.
std::vector<std::uint8_t> encode(const Header& h);

// A PROXY header (command PROXY) for a connection from `source` to `destination`.
Header proxied(int version, Transport transport, const Address& source, const Address& destination);

// "1.2.3.4" / "::1" / "unix:/path"; and with the port "1.2.3.4:5" / "[::1]:5".
std::string format_ip(const Address& a);
std::string format_address(const Address& a);

// Parses an IP literal ("1.2.3.4", "::1", "::ffff:1.2.3.4") with a port.
Result<Address> parse_ip(std::string_view ip, std::uint16_t port = 0);
// Parses "1.2.3.4:5" or "[::1]:5" (what the relay writes in OPEN metadata).
Result<Address> parse_endpoint(std::string_view host_port);

// CRC32C (Castagnoli), as RFC 4960 appendix B: for the PP2_TYPE_CRC32C TLV.
std::uint32_t crc32c(std::span<const std::uint8_t> bytes);

}  // namespace porthole::proto::pp
