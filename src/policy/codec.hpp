// Reading a policy from a parsed TOML table (policy_codec.cpp). The text of a file is parsed by
// the config layer (config/policy_text_codec.cpp: the toml++ guard lives there), which also
// reads inline policies of porthole.toml tunnels and relay.toml's operator rules with this.
#pragma once

#undef TOML_SHARED_LIB
#define TOML_SHARED_LIB 0
#undef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#undef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policy/policy.hpp"

namespace porthole::policy {

// "a table", "an integer", ... for messages about a value of the wrong type (the config codecs
// use it too).
std::string_view toml_type_name(const toml::node& n);

struct Problem {
  std::uint32_t line = 0;
  std::string key;   // full path: "on_http_request[1].actions[0].status"
  std::string text;  // never holds a secret
};

// Reads the policy in `t` (keys: version?, on_tcp_connect, on_http_request, on_http_response).
// `prefix` is the table's own path in messages ("" for a policy file, "tunnel[0].policy").
// Problems are appended (all of them); the result is usable only when none was added.
std::shared_ptr<Policy> read_policy(const toml::table& t, std::string_view prefix, std::vector<Problem>& problems);

// The short flags as rules: one rule "flags" with `continue = true`, put before the rules of a
// policy file, so both apply. Secrets are hashed here (basic-auth) before anything leaves.
struct Sugar {
  std::vector<std::string> allow_cidr, deny_cidr;
  std::vector<std::string> basic_auth;  // USER:PASS (hashed into the policy) or USER:$scrypt$...
  std::string rate_limit;               // N/s, N/m
  std::string webhook, webhook_secret;  // --verify-webhook PROVIDER --verify-webhook-secret S
  bool http = true;                     // false: a tcp tunnel (on_tcp_connect)
  // --jwt-issuer ISS --jwt-audience AUD and one of --jwks-url URL, --jwt-secret S, --jwks-file F
  // (the agent reads the file: `jwks` holds its text).
  std::string jwt_issuer, jwt_audience, jwks_url, jwt_secret, jwks;
  // --oidc ISSUER --oidc-client-id ID --oidc-client-secret S [--oidc-allow-domain D]... [--oidc-allow-user U]...
  std::string oidc_issuer, oidc_client_id, oidc_client_secret;
  std::vector<std::string> oidc_allow_domain, oidc_allow_user;
  bool empty() const {
    return allow_cidr.empty() && deny_cidr.empty() && basic_auth.empty() && rate_limit.empty() && webhook.empty() &&
           webhook_secret.empty() && jwt_issuer.empty() && jwt_audience.empty() && jwks_url.empty() &&
           jwt_secret.empty() && jwks.empty() && oidc_issuer.empty() && oidc_client_id.empty() &&
           oidc_client_secret.empty() && oidc_allow_domain.empty() && oidc_allow_user.empty();
  }
};
// Adds the sugar's rule in front of `t`'s on_http_request (on_tcp_connect for tcp) rules.
Result<void> apply_sugar(toml::table& t, const Sugar& s);

}  // namespace porthole::policy
