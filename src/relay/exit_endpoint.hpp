// Exits: private endpoints whose agent (`porthole exit NAME --allow-dest ...`) connects each
// stream to the destination in its OPEN metadata (`target`), after its own allow-list check.
// They share the private names (ownership, --allow-private, --allow-connect) with `porthole tcp
// --private`; the relay only tells the two apart so a `socks` stream never reaches a plain
// private service and a `connect` stream never reaches an exit (connect_join.cpp).
#pragma once

#include "relay/endpoint.hpp"
#include "relay/endpoint_kinds.hpp"

namespace porthole::relay {

bool is_exit_endpoint(const Endpoint& ep);  // its public_url is exit://NAME

// Both kinds of private name (private_endpoint.cpp): the name checked and claimed for the token,
// then the endpoint registered under it joined (same token, same kind) or made.
Result<Bound> bind_private_name(BindContext& ctx, const BindRequest& req, bool exit);

}  // namespace porthole::relay
