// What the relay's own policy fetches share (docs/policy.md, docs/security.md): the CA bundle
// (relay.toml jwks_ca / --jwks-ca, also for OIDC providers), the destination check (public
// addresses only unless relay.toml policy_fetch_allow lists a range: an agent must not make the
// relay fetch from its own loopback or private network), and the oidc session cookie key (32
// random bytes made once in the data directory, mode 0600, so sessions survive a restart).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "acme/https_client.hpp"
#include "config/model.hpp"
#include "core/result.hpp"
#include "net/asio.hpp"
#include "policy/fetch_check.hpp"
#include "policy/policy.hpp"

namespace porthole::policy {
class CookieSealer;
}

namespace porthole::relay {

struct PolicyContext {
  std::string ca_file;
  std::shared_ptr<const policy::FetchAllow> allow;
  std::shared_ptr<const policy::CookieSealer> sealer;
};

// From relay.toml / flags; reads (or makes) DATA_DIR/oidc-cookie.key.
Result<std::shared_ptr<const PolicyContext>> make_policy_context(const config::RelayConfig& cfg);

// Sets the context on every jwt jwks_url source and oidc provider of `p` (at compile time).
void prepare_policy(policy::Policy& p, const PolicyContext& ctx);

// An HTTPS client for a policy fetch (`what`: "JWKS", "OIDC discovery", ...) that refuses a
// destination FetchAllow refuses — counted in porthole_policy_fetches_refused_total{reason} —
// and connects only to the addresses it checked.
Result<acme::HttpsClient> policy_fetch_client(net::Executor ex, const std::string& ca_file,
                                              std::shared_ptr<const policy::FetchAllow> allow, std::string what);

}  // namespace porthole::relay
