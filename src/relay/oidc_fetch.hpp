// The oidc action's I/O (policy/oidc.hpp; docs/policy.md): the provider's discovery document
// (<issuer>/.well-known/openid-configuration), the code exchange at its token endpoint
// (client_secret_basic or _post, as the discovery says) and its JWKS (relay/jwks_cache.cpp),
// all over HTTPS with the certificate verified (relay.toml jwks_ca / --jwks-ca, else system
// trust) and private destinations refused (relay/policy_fetch.hpp). Each runs in the waiting
// request's coroutine with a 10 s deadline; the event loop never blocks.
#pragma once

#include <memory>

#include "net/asio.hpp"
#include "policy/oidc.hpp"

namespace porthole::relay {

// Fetches the provider's discovery document if its schedule allows (OidcProvider::begin_fetch).
net::Task<void> refresh_oidc_discovery(std::shared_ptr<policy::OidcProvider> provider);

// Exchanges the callback's code and decides the login (policy::finish_oidc_login).
net::Task<policy::Decision> complete_oidc_login(std::shared_ptr<const policy::OidcExchange> x);

}  // namespace porthole::relay
