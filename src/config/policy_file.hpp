// Policy documents as text: a `--policy FILE`, the canonical document an agent sends in Bind,
// and the inline [tunnel.policy] / relay.toml [policy] tables (read by agent_codec/relay_codec).
// Every problem is reported at once as "SOURCE:LINE: KEY: problem". docs/policy.md.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "policy/policy.hpp"

namespace porthole::policy {
struct Sugar;
}

namespace porthole::config {

// Parses and compiles a policy; `sugar` (the short flags) adds its rules in front.
// Reads a file a policy names (jwt `jwks_file`), relative to the policy file.
using FileReader = std::function<Result<std::string>(const std::string& name)>;
// `files` set (policy files only): jwt actions' jwks_file are read with it and inlined as jwks.
Result<std::shared_ptr<policy::Policy>> parse_policy(std::string_view text, std::string_view source,
                                                     const policy::Sugar* sugar = nullptr,
                                                     const FileReader* files = nullptr);
// Reads FILE and parses it (load.cpp).
Result<std::shared_ptr<policy::Policy>> load_policy(const std::string& path, const policy::Sugar* sugar = nullptr);

}  // namespace porthole::config
