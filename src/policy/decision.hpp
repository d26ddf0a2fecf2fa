// The policy step of the visitor pipeline: what the relay knows of a visitor (and, for HTTP, of
// its request) in, a decision out. Pure. Today every endpoint allows everything; the
// access-control issue fills this in with rules (docs/architecture.md, "visitor pipeline").
#pragma once

#include <string>
#include <string_view>

namespace porthole::policy {

struct Visitor {
  std::string_view ip;    // L4 address (or from a trusted PROXY header)
  std::string_view host;  // HTTP Host / TLS SNI, "" for plain TCP
};

struct HttpFacts {
  std::string_view method, target;
};

struct Decision {
  bool allow = true;
  int status = 0;      // for a deny of an HTTP request
  std::string reason;  // for logs and the deny page
};

inline Decision on_tcp_connect(const Visitor&) { return {}; }
inline Decision on_http_request(const Visitor&, const HttpFacts&) { return {}; }

}  // namespace porthole::policy
