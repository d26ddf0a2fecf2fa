// porthole start [--config FILE] [NAME... | --all]: run the [[tunnel]] blocks of a config file.
#include <algorithm>
#include <iostream>
#include <memory>

#include "app/agent_options.hpp"
#include "app/commands.hpp"

namespace porthole::app {

namespace {

struct StartOptions {
  AgentFlags agent;
  std::vector<std::string> names;
  bool all = false;
};

int run_start(const StartOptions& o) {
  auto cfg = resolve_agent_config(o.agent);
  if (!cfg) {
    std::cerr << "porthole: " << cfg.error().message << "\n";
    return 2;
  }
  if (!o.names.empty()) {
    for (const auto& n : o.names) {
      auto found = std::any_of(cfg->tunnels.begin(), cfg->tunnels.end(), [&](const auto& t) { return t.name == n; });
      if (!found) {
        std::cerr << "porthole start: no tunnel named '" << n << "' in the config\n";
        return 2;
      }
    }
    std::erase_if(cfg->tunnels, [&](const auto& t) {
      return std::find(o.names.begin(), o.names.end(), t.name) == o.names.end();
    });
  }
  if (cfg->tunnels.empty()) {
    std::cerr << "porthole start: the config defines no [[tunnel]]\n";
    return 2;
  }
  return run_agent(std::move(*cfg), o.agent);
}

}  // namespace

void add_start(CLI::App& app, Run& run) {
  auto o = std::make_shared<StartOptions>();
  auto* sub = app.add_subcommand("start", "Start the tunnels defined in the config file");
  sub->add_option("names", o->names, "Tunnel names to start (default: all)");
  sub->add_flag("--all", o->all, "Start every tunnel (the default)");
  add_agent_flags(*sub, o->agent);
  sub->callback([o, &run] { run = [o] { return run_start(*o); }; });
}

}  // namespace porthole::app
