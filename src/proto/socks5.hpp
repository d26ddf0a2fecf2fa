// SOCKS5 (RFC 1928) and its username/password sub-negotiation (RFC 1929), server side,
// sans-I/O: each parse function takes every byte received so far for that message and says
// need_more, done (with how many bytes it used: what follows is the client's early data) or
// error (with the reply the RFC gives, if any, before closing). Encoders build the replies.
// No sockets, no allocation beyond the parsed fields (docs/socks.md).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace porthole::proto::socks5 {

inline constexpr std::uint8_t kVersion = 5;
inline constexpr std::uint8_t kMethodNone = 0x00;
inline constexpr std::uint8_t kMethodUserPass = 0x02;
inline constexpr std::uint8_t kMethodNoAcceptable = 0xff;

inline constexpr std::uint8_t kCmdConnect = 1, kCmdBind = 2, kCmdUdpAssociate = 3;
inline constexpr std::uint8_t kAtypIpv4 = 1, kAtypDomain = 3, kAtypIpv6 = 4;

// REP codes (RFC 1928 section 6).
enum Reply : std::uint8_t {
  kSucceeded = 0x00,
  kGeneralFailure = 0x01,
  kNotAllowed = 0x02,  // connection not allowed by ruleset
  kNetworkUnreachable = 0x03,
  kHostUnreachable = 0x04,
  kConnectionRefused = 0x05,
  kTtlExpired = 0x06,
  kCommandNotSupported = 0x07,
  kAddressTypeNotSupported = 0x08,
};

enum class Status { need_more, done, error };

// Client greeting: VER NMETHODS METHODS...
struct Greeting {
  std::vector<std::uint8_t> methods;
  bool offers(std::uint8_t m) const;
};
struct GreetingResult {
  Status status = Status::need_more;
  std::size_t consumed = 0;
  Greeting greeting;
  bool send_no_acceptable = false;  // on error: answer 05 FF first (a SOCKS5 client that offered nothing)
  std::string error;
};
GreetingResult parse_greeting(std::span<const std::uint8_t> in);

// RFC 1929: VER(1) ULEN UNAME PLEN PASSWD. On error the answer is status 1 (encode_auth_status).
struct UserPassResult {
  Status status = Status::need_more;
  std::size_t consumed = 0;
  std::string user, password;
  std::string error;
};
UserPassResult parse_userpass(std::span<const std::uint8_t> in);

// Request: VER CMD RSV ATYP DST.ADDR DST.PORT.
struct Request {
  std::uint8_t command = 0;
  std::uint8_t atyp = 0;
  std::string host;  // dotted IPv4, IPv6 text (no brackets), or the domain name as sent
  std::uint16_t port = 0;
};
struct RequestResult {
  Status status = Status::need_more;
  std::size_t consumed = 0;
  Request request;
  std::uint8_t reply = kGeneralFailure;  // on error: the REP to answer with before closing
  std::string error;
};
// Parses any command (the caller answers kCommandNotSupported to those it does not serve);
// an unknown command is an error with kCommandNotSupported as soon as its byte is seen, an
// unknown ATYP kAddressTypeNotSupported, a wrong version / RSV / empty or non-printable domain
// kGeneralFailure.
RequestResult parse_request(std::span<const std::uint8_t> in);

std::vector<std::uint8_t> encode_method(std::uint8_t method);   // 05 M
std::vector<std::uint8_t> encode_auth_status(bool ok);          // 01 00 | 01 01
// 05 REP 00 ATYP BND.ADDR BND.PORT; `bound_ip` is 4 or 16 bytes (empty: 0.0.0.0).
std::vector<std::uint8_t> encode_reply(std::uint8_t rep, std::span<const std::uint8_t> bound_ip = {},
                                       std::uint16_t bound_port = 0);

}  // namespace porthole::proto::socks5
