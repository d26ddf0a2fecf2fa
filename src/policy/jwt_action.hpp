// The `jwt` action (docs/policy.md): where the token is taken from, the rules it must meet,
// the keys it is checked with, and the claims passed on to the upstream. Pure (jwt.hpp does the
// cryptography; relay/jwks_cache.cpp fetches `jwks_url` keys when a Decision asks for them).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/jwt.hpp"
#include "policy/policy.hpp"

namespace porthole::policy {

struct JwtSpec {
  JwtRules rules;
  std::shared_ptr<JwksSource> keys;
  std::string header = "Authorization";  // Authorization: "Bearer TOKEN"; another header holds the token itself
  std::string cookie;                    // optional: a cookie holding the token when the header is absent
  struct Forward {
    std::string claim, header;
  };
  std::vector<Forward> forward;      // claims → request headers (visitors' copies always removed)
  std::string identity_claim = "sub";  // becomes the identity (X-Porthole-User, rate-limit keys)
  std::string realm = "porthole";
};

// Runs a jwt action: false when it ended the phase (401, or a JWKS fetch is wanted first:
// then Decision::needs_keys is set, and the decision is a 401 until the caller refetched and ran
// the phase again with Input::keys_refreshed).
bool run_jwt(const JwtSpec& spec, const Input& in, Decision& d);

}  // namespace porthole::policy
