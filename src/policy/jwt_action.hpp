// The `jwt` action (docs/policy.md): where the token is taken from, the rules it must meet,
// the keys it is checked with, and the claims passed on to the upstream. Pure (jwt.hpp does the
// cryptography; relay/jwks_cache.cpp fetches `jwks_url` keys when a Decision asks for them).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "policy/credential_cache.hpp"
#include "policy/jwt.hpp"
#include "policy/policy.hpp"

namespace porthole::policy {

// What a verified token gave, remembered for its next requests (until it expires, and only while
// the keys it was verified with are the current ones: a JWKS refresh verifies again).
struct VerifiedJwt {
  std::shared_ptr<const KeySet> keys;
  std::int64_t valid_until = 0;  // unix seconds
  std::string identity;
  std::vector<Header> claim_headers;  // forward_claims present in the token
};
constexpr std::size_t kVerifiedJwts = 4096;  // per jwt action

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
  std::shared_ptr<CredentialCache<VerifiedJwt>> verified = std::make_shared<CredentialCache<VerifiedJwt>>(kVerifiedJwts);
};

// Runs a jwt action: false when it ended the phase (401, or a JWKS fetch is wanted first:
// then Decision::needs_keys is set, and the decision is a 401 until the caller refetched and ran
// the phase again with Input::keys_refreshed).
bool run_jwt(const JwtSpec& spec, const Input& in, Decision& d);

}  // namespace porthole::policy
