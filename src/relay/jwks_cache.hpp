// JWKS over HTTPS for the policies' `jwt` actions with `jwks_url` (docs/policy.md): the I/O
// half of policy::JwksSource. A fetch is made on demand from the request's own coroutine when
// a Decision asks for it (no keys yet, keys past their max-age, or an unknown kid), never more
// than once per the action's `jwks_refresh` seconds, one at a time per source; it has a 10 s
// deadline and never blocks the event loop. The server's certificate is verified (system trust,
// or relay.toml `jwks_ca` / `--jwks-ca`); private destinations are refused (relay/policy_fetch.hpp).
// A failed fetch keeps the keys already cached.
#pragma once

#include <memory>
#include <string>

#include "net/asio.hpp"
#include "policy/jwt.hpp"
#include "policy/policy.hpp"

namespace porthole::relay {

// Fetches `src`'s JWKS if the schedule allows (JwksSource::begin_fetch), and stores the result.
net::Task<void> refresh_jwks(std::shared_ptr<policy::JwksSource> src);

}  // namespace porthole::relay
