// The flags every agent command shares (--relay, --token, --relay-fingerprint, ...), and how
// they combine with the config file and the environment: flags > environment > file.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "config/model.hpp"
#include "core/result.hpp"

namespace porthole::app {

struct AgentFlags {
  std::string config_file;
  std::string relay, token, relay_fingerprint, relay_ca, name, inspect;
  bool exit_on_failure = false;
  std::string heartbeat_interval, heartbeat_timeout;
  std::string inspect_memory, inspect_body_limit;  // sizes: 64MiB, 1MiB, 512k...
  std::string inspect_db;  // PATH or "state" ($XDG_STATE_HOME/porthole/captures.db)
  std::string log;  // "" = the status screen on a terminal; "stdout" / "stderr": plain log lines there
};

void add_agent_flags(CLI::App& sub, AgentFlags& flags);

// Loads the config file (the default path only when it exists), then applies the environment
// (PORTHOLE_RELAY, PORTHOLE_TOKEN) and the flags.
Result<config::AgentConfig> resolve_agent_config(const AgentFlags& flags);

// Runs an agent with these settings until a signal; prints Forwarding lines on stdout.
// With the inspector on (cfg.inspect not "off") it also captures http exchanges and serves the
// agent API and the inspector page on cfg.inspect.
int run_agent(config::AgentConfig cfg, const AgentFlags& flags = {});

// --inspect-db's file: "state" is $XDG_STATE_HOME/porthole/captures.db (~/.local/state/...).
std::string resolve_inspect_db(const std::string& value);

// "64MiB", "1MiB", "512KiB", "1048576", "10MB", "1k" -> bytes.
Result<std::size_t> parse_size(std::string_view text);

}  // namespace porthole::app
