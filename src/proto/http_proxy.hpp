// The HTTP side of `porthole socks`: a proxy request head (CONNECT host:port, or a plain-HTTP
// absolute-form request `GET http://host/path`), sans-I/O, on top of the strict HTTP/1 codec
// (http1.hpp). It says where to connect and, for absolute-form, the head to send there
// (origin-form target, proxy fields removed; `Connection: close` only when the client's request
// said so: a client connection keeps going across requests). Proxy-Authorization: Basic is
// checked here too (docs/socks.md).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "proto/http1.hpp"

namespace porthole::proto::http_proxy {

struct Request {
  bool tunnel = false;        // CONNECT: after 200 the bytes are the client's own
  std::string host;           // no brackets for IPv6
  std::uint16_t port = 0;
  std::string forward_head;   // absolute-form: the head to send to host:port
  std::string proxy_authorization;  // as sent ("" none)
  bool keep_alive = false;
  std::string method;                // of the request (HEAD changes the response's framing)
  http1::BodyKind body = http1::BodyKind::none;  // the request body's framing (none/length/chunked)
  std::uint64_t content_length = 0;
};

struct Parsed {
  http1::ParseStatus status = http1::ParseStatus::incomplete;
  std::size_t head_size = 0;  // complete: the head's bytes; what follows is body / tunnel data
  Request request;
  int error_status = 400;     // on error: the status to answer before closing
  std::string error;
};

Parsed parse(std::span<const std::uint8_t> in);
// The same for a head already parsed by http1::parse_request (a net::MessageReader's).
Parsed from_head(http1::RequestHead head, std::size_t head_size);

// Whether a Proxy-Authorization value is `Basic base64(user:password)` for these.
bool basic_matches(std::string_view value, std::string_view user, std::string_view password);

// A complete short response: status line, `Connection: close` (unless 200 to CONNECT), a text
// body naming `detail`; 407 adds `Proxy-Authenticate: Basic realm="porthole"`.
std::string response(int status, std::string_view detail);
inline constexpr std::string_view kConnectEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";

}  // namespace porthole::proto::http_proxy
