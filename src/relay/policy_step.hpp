// The policy step of the visitor pipelines (docs/policy.md): builds the policy input from what
// the relay knows, runs policy::decide, counts denials by reason
// (porthole_policy_denials_total{reason}) and, for HTTP, answers a denied request itself or
// applies the allowed request's edits.
#pragma once

#include <string>

#include "net/byte_stream.hpp"
#include "net/http_io.hpp"
#include "policy/decision.hpp"
#include "proto/http1.hpp"
#include "relay/endpoint.hpp"

namespace porthole::relay {

// TCP: true when the visitor from `ip` may connect.
bool tcp_allowed(const Endpoint& ep, const std::string& ip);

struct RequestStep {
  bool forward = true;      // go on to the agent
  bool keep_alive = false;  // when not forwarded: the visitor connection may go on
  bool buffered = false;    // the body was read (verify-webhook): `body` goes up instead of the reader's
  std::string body;
};
// HTTP: decides on `head` (edited in place when allowed: headers, target, identity). A
// verify-webhook rule has the body read from `reader` first (Content-Length only, up to its
// max_body: 413 above, 411 for chunked).
// `scheme`, `sni` and `mtls_subject` say how the visitor came (https: the SNI, and the verified
// client certificate's subject with mTLS).
net::Task<RequestStep> request_policy(const Endpoint& ep, net::ByteStream& visitor, net::MessageReader& reader,
                                      proto::http1::RequestHead& head, const std::string& ip,
                                      std::string_view scheme = "http", std::string_view sni = {},
                                      std::string_view mtls_subject = {});

// The on_http_response edits for the response `rh` to the request that was (method, host, target).
void response_policy(const Endpoint& ep, const std::string& ip, const proto::http1::RequestHead& request,
                     proto::http1::ResponseHead& rh);

// The header an authenticated identity reaches the upstream in (visitors' own copies removed).
inline constexpr std::string_view kIdentityHeader = "X-Porthole-User";

}  // namespace porthole::relay
