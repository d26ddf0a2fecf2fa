// Building and running a relay from its config (used by `porthole relay` and `porthole demo`).
#pragma once

#include <memory>
#include <ostream>

#include "config/model.hpp"
#include "net/asio.hpp"
#include "relay/relay.hpp"

namespace porthole::app {

// Opens the store, loads or creates the certificate, registers the configured tokens, binds
// the listeners and prints where the relay listens and its fingerprint to `out`.
Result<std::unique_ptr<relay::Relay>> make_relay(net::asio::io_context& io, const config::RelayConfig& cfg,
                                                 std::ostream& out);

// `porthole relay`: runs until SIGINT/SIGTERM, then drains. Exit status.
int run_relay(config::RelayConfig cfg);

}  // namespace porthole::app
