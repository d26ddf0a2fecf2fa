// The demo's sample service: a small HTTP/1.1 app on a private port, read with porthole's own
// strict codec. GET / is a page (with a button that sends a test webhook from the browser);
// POST /webhook receives a webhook (any body up to 1 MiB) and answers with what it got, like
// the receiver a developer is writing; GET /webhooks lists the last ones received (JSON).
#pragma once

#include <cstdint>
#include <memory>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::app {

// Listens on 127.0.0.1:0 and serves until the io_context stops. Returns the port.
Result<std::uint16_t> start_sample_app(net::asio::io_context& io);

}  // namespace porthole::app
