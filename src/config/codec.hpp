// Internal to the config layer: parse entry points that also resolve relative paths.
#pragma once

#include <string_view>

#include "config/config.hpp"

namespace porthole::config::detail {

// As parse_*_config; relative paths in the file (cert, key, data_dir, relay_ca) are resolved
// against `base_dir` unless it is empty.
Result<RelayConfig> parse_relay_at(std::string_view text, std::string_view source, std::string_view base_dir);
Result<AgentConfig> parse_agent_at(std::string_view text, std::string_view source, std::string_view base_dir);
Result<AnyConfig> parse_any_at(std::string_view text, std::string_view source, std::string_view base_dir);

}  // namespace porthole::config::detail
