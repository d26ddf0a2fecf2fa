// Exits: private endpoints whose agent (`porthole exit NAME --allow-dest ...`) connects each
// stream to the destination in its OPEN metadata (`target`), after its own allow-list check.
// They share the private names (ownership, --allow-private, --allow-connect) with `porthole tcp
// --private`; the relay only tells the two apart so a `socks` stream never reaches a plain
// private service and a `connect` stream never reaches an exit (connect_join.cpp).
#pragma once

#include "relay/endpoint.hpp"

namespace porthole::relay {

bool is_exit_endpoint(const Endpoint& ep);  // its public_url is exit://NAME

}  // namespace porthole::relay
