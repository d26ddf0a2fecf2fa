// Loading relay.toml and porthole.toml (agent) into the model (config/model.hpp).
// Strict: unknown keys and bad values are errors; every problem is reported at once, one per
// line of the Error's message, as "FILE:LINE: KEY: problem" in file order. See docs/config.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/model.hpp"
#include "core/result.hpp"

namespace porthole::config {

inline constexpr std::int64_t kVersion = 1;

// Parses a file's text; `source` names it in messages. Relative paths stay as written.
Result<RelayConfig> parse_relay_config(std::string_view text, std::string_view source);
Result<AgentConfig> parse_agent_config(std::string_view text, std::string_view source);

// Reads and parses a file. Relative paths inside it (cert, key, data_dir, relay_ca) are taken
// relative to the file's directory.
Result<RelayConfig> load_relay_config(const std::string& path);
Result<AgentConfig> load_agent_config(const std::string& path);

// A file of either kind, told apart by its top-level table: [relay] vs [agent]/[[tunnel]].
enum class FileKind { relay, agent };
struct AnyConfig {
  FileKind kind = FileKind::agent;
  RelayConfig relay;  // valid when kind == relay
  AgentConfig agent;  // valid when kind == agent
};
Result<AnyConfig> parse_config(std::string_view text, std::string_view source);
Result<AnyConfig> load_config(const std::string& path);

// $XDG_CONFIG_HOME/porthole/porthole.toml, else ~/.config/porthole/porthole.toml.
std::string default_agent_config_path();

// Durations: a bare integer is seconds; otherwise one or more NUMBER UNIT groups with unit
// ms, s, m or h ("500ms", "10s", "2m", "1h30m"). Non-negative, at most 30 days.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// A SHA-256 fingerprint as 64 hex digits, colons and a "sha256:" prefix allowed; returns the
// canonical form: 64 lowercase hex digits, no colons.
Result<std::string> normalize_fingerprint(std::string_view text);

// Agent and tunnel names: 1..63 of [A-Za-z0-9_.-], starting with a letter or digit.
bool is_valid_name(std::string_view name);

// Largest config file read, in bytes.
inline constexpr std::size_t kMaxFileSize = 1 << 20;

}  // namespace porthole::config
