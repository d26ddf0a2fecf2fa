// The agent's known-relays file (trust on first use, like ssh's known_hosts).
// Implemented in net/known_relays because net::verify_relay_certificate needs it and a lower
// layer must not include a higher one; the agent uses these names.
#pragma once

#include "net/known_relays.hpp"

namespace porthole::agent {

using net::check_known_relay;
using net::default_known_relays_path;
using net::known_relay_key;
using net::KnownRelay;
using net::parse_known_relays;
using net::TofuOutcome;

}  // namespace porthole::agent
