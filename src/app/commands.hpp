// The subcommand table. Each command lives in its own cmd_*.cpp: it declares its flags on the
// CLI11 app and, when chosen, leaves the action to run in `run` (returns the exit status:
// 0 ok, 1 runtime failure, 2 usage or configuration error).
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace porthole::app {

using Run = std::function<int()>;
using AddCommand = void (*)(CLI::App& app, Run& run);

void add_relay(CLI::App& app, Run& run);     // porthole relay
void add_expose(CLI::App& app, Run& run);    // porthole tcp, porthole http (later: tls, udp)
void add_start(CLI::App& app, Run& run);     // porthole start
void add_config(CLI::App& app, Run& run);    // porthole config check
void add_token(CLI::App& app, Run& run);     // porthole token create|list|revoke
void add_map(CLI::App& app, Run& run);       // porthole map add|list|remove|external-ip
void add_ports(CLI::App& app, Run& run);     // porthole ports
void add_doctor(CLI::App& app, Run& run);    // porthole doctor
void add_demo(CLI::App& app, Run& run);      // porthole demo
void add_forward(CLI::App& app, Run& run);   // porthole forward
void add_connect(CLI::App& app, Run& run);   // porthole connect
void add_policy(CLI::App& app, Run& run);    // porthole policy test|hash-password
void add_exit(CLI::App& app, Run& run);      // porthole exit (cmd_exit.cpp)
void add_socks(CLI::App& app, Run& run);     // porthole socks (cmd_socks.cpp)

inline constexpr AddCommand kCommands[] = {
    add_relay, add_expose, add_start, add_config, add_token,
    add_map,   add_ports,  add_doctor, add_demo,
    add_forward,
    add_connect,
    add_policy,
    add_exit, add_socks,
};

}  // namespace porthole::app
