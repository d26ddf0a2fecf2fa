// The demo's sample service: a tiny HTTP/1.1 server that greets every request.
#pragma once

#include <cstdint>
#include <memory>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::app {

// Listens on 127.0.0.1:0 and serves until the io_context stops. Returns the port.
Result<std::uint16_t> start_sample_app(net::asio::io_context& io);

}  // namespace porthole::app
