// One HTTP exchange through an agent: the request (head prepared for forwarding, body streamed
// with its framing checked) goes into a new stream of the chosen agent's session; the response
// comes back checked as strictly (a broken origin never desyncs the visitor connection).
// Interim 1xx responses are passed on; after a 101 both sides are joined raw (WebSocket).
#pragma once

#include <chrono>
#include <functional>

#include "net/http_io.hpp"
#include "net/tcp_stream.hpp"
#include "relay/endpoint.hpp"
#include "relay/http_errors.hpp"

namespace porthole::relay {

struct ExchangeOptions {
  std::chrono::seconds upstream_timeout{60};
  std::chrono::seconds body_timeout{60};
  std::string visitor_dest;  // what the visitor connected to (OPEN metadata `dest`, for PROXY headers)
  // The on_http_response policy step: edits the final response head before it goes out.
  std::function<void(proto::http1::ResponseHead&)> on_response;
  std::string hsts;  // Strict-Transport-Security value for responses ("" none: plain HTTP or not asked)
};

struct ExchangeResult {
  bool keep_alive = false;  // the visitor connection may carry another request
};

net::Task<ExchangeResult> forward_exchange(Pick& pick, net::ByteStream& visitor, net::MessageReader& reader,
                                           proto::http1::RequestHead& head, const std::string& visitor_addr,
                                           const ExchangeOptions& options);

// Writes the relay's own answer for `f` (HTML for browsers); false when the write failed.
net::Task<bool> answer(net::ByteStream& visitor, HttpFailure f, std::string_view detail, bool html, int status = 0,
                       bool close = false);

}  // namespace porthole::relay
