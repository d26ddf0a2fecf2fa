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
};
// Adds the sugar's rule in front of `t`'s on_http_request (on_tcp_connect for tcp) rules.
Result<void> apply_sugar(toml::table& t, const Sugar& s);

}  // namespace porthole::policy
