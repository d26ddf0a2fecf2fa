// The policy step of the visitor pipeline: the operator's rules (relay.toml [policy]) first,
// then the endpoint's own (sent by its agent in Bind). An operator deny is final; an operator
// `allow` ends only the operator's rules, so an agent can never loosen them. Pure.
#pragma once

#include "policy/policy.hpp"

namespace porthole::policy {

Decision decide(const Policy* relay, const Policy* endpoint, Phase phase, const Input& in, bool explain = false);

}  // namespace porthole::policy
