// The answers the relay itself gives visitors of HTTP endpoints when it cannot (or will not)
// forward a request: one table of reasons, each with its status, a counter
// (porthole_relay_http_errors_total{reason=...}) and a page for people (HTML when the client
// takes it, one line of text otherwise).
#pragma once

#include <string>
#include <string_view>

#include "proto/http1.hpp"

namespace porthole::relay {

enum class HttpFailure {
  unknown_host,      // 404: no tunnel has this name
  agent_offline,     // 503: the name is known, no agent serves it now
  upstream_failed,   // 502: the agent could not reach its local service (or went away)
  upstream_timeout,  // 504: the local service did not answer in time
  bad_request,       // 400/501/505: the request is malformed
  head_too_large,    // 431
  bad_response,      // 502: the local service sent a malformed response
  method_not_allowed,  // 405: CONNECT to a reverse proxy
  too_many_connections,  // 503: the per-IP cap on visitor connections
  misdirected,       // 421: over terminated TLS, a request for another host than the SNI
};

// A complete response for `f`; `status` overrides the table's (bad_request: 400/501/505).
// `close` announces that the relay closes the connection after it (malformed requests always do).
std::string failure_response(HttpFailure f, std::string_view detail, bool html, int status = 0, bool close = false);
// Counts it.
void count_failure(HttpFailure f);
std::string_view failure_name(HttpFailure f);

}  // namespace porthole::relay
