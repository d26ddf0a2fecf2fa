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
};

void add_agent_flags(CLI::App& sub, AgentFlags& flags);

// Loads the config file (the default path only when it exists), then applies the environment
// (PORTHOLE_RELAY, PORTHOLE_TOKEN) and the flags.
Result<config::AgentConfig> resolve_agent_config(const AgentFlags& flags);

// Runs an agent with these settings until a signal; prints Forwarding lines on stdout.
int run_agent(config::AgentConfig cfg);

}  // namespace porthole::app
