// The jwt action's TOML (docs/policy.md, "jwt"): read from the action's table by
// policy_codec.cpp's action table (one line there), checked here key by key.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "policy/codec.hpp"

namespace porthole::policy {

// Every key a jwt action may have (besides `type`).
inline constexpr std::array<std::string_view, 15> kJwtKeys = {
    "issuer",  "audience", "algorithms",     "jwks_url", "jwks",           "jwks_file", "secret", "header",
    "cookie", "skew",     "forward_claims", "required_claims", "identity_claim", "jwks_refresh", "realm"};

// Reads `t` (the action's table, at path `prefix`) into `a` (a.jwt); problems appended.
void read_jwt_action(const toml::table& t, const std::string& prefix, std::vector<Problem>& out, Action& a);

}  // namespace porthole::policy
