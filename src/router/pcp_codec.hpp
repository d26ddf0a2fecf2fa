// PCP (RFC 6887) MAP and ANNOUNCE, sans-I/O: build request bytes, decode and validate reply bytes.
// Depends on src/core only (it is fuzzed by tests/fuzz/fuzz_pcp.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace porthole::router::pcp {

inline constexpr std::uint16_t kServerPort = 5351;
inline constexpr std::uint8_t kVersion = 2;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr std::size_t kMapDataSize = 36;
inline constexpr std::size_t kMaxMessage = 1100;

enum class Opcode : std::uint8_t { announce = 0, map = 1, peer = 2 };

// RFC 6887 §7.4.
enum class ResultCode : std::uint8_t {
  success = 0,
  unsupp_version = 1,
  not_authorized = 2,
  malformed_request = 3,
  unsupp_opcode = 4,
  unsupp_option = 5,
  malformed_option = 6,
  network_failure = 7,
  no_resources = 8,
  unsupp_protocol = 9,
  user_ex_quota = 10,
  cannot_provide_external = 11,
  address_mismatch = 12,
  excessive_remote_peers = 13,
};

using Nonce = std::array<std::uint8_t, 12>;
using Ip16 = std::array<std::uint8_t, 16>;  // IPv6, or IPv4-mapped ::ffff:a.b.c.d

inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;

struct MapRequest {
  Ip16 client_ip{};  // this machine's address as the router sees it
  std::uint32_t lifetime = 0;  // 0 = delete
  Nonce nonce{};
  std::uint8_t protocol = kProtoTcp;
  std::uint16_t internal_port = 0;
  std::uint16_t suggested_external_port = 0;
  Ip16 suggested_external_ip{};  // all zero = no preference
};

struct MapData {
  Nonce nonce{};
  std::uint8_t protocol = 0;
  std::uint16_t internal_port = 0;
  std::uint16_t external_port = 0;
  Ip16 external_ip{};
};

struct Response {
  Opcode opcode = Opcode::announce;
  std::uint8_t result = 0;  // ResultCode, kept raw so unknown codes can be reported
  std::uint32_t lifetime = 0;
  std::uint32_t epoch = 0;
  std::optional<MapData> map;  // MAP replies that carry opcode data
};

std::vector<std::uint8_t> encode_announce(const Ip16& client_ip);
std::vector<std::uint8_t> encode_map(const MapRequest& req);

// Strict decode of one reply datagram: size (24..1100, multiple of 4), version 2, R bit set,
// known opcode, MAP data present on success, options well-formed. A NAT-PMP reply (version 0)
// is reported as such. Never reads past `bytes`.
Result<Response> decode_response(std::span<const std::uint8_t> bytes);

// Checks that a decoded MAP reply answers `req`: opcode MAP, same nonce, protocol and internal
// port; on success a non-zero external port (unless deleting). Result code errors come back
// with result_text().
Result<MapData> match_map_reply(const Response& resp, const MapRequest& req);

// "NOT_AUTHORIZED: the router's policy does not allow this mapping (PCP result 2)".
std::string result_text(std::uint8_t code);
// True for result codes worth retrying later (NETWORK_FAILURE, NO_RESOURCES, USER_EX_QUOTA).
bool result_is_transient(std::uint8_t code);

// Dotted IPv4 -> IPv4-mapped Ip16; fails on anything else.
Result<Ip16> ipv4_mapped(std::string_view dotted);
// IPv4-mapped -> "a.b.c.d"; other IPv6 as hex groups; all zero -> "".
std::string format_ip(const Ip16& ip);

}  // namespace porthole::router::pcp
