// porthole config check [FILE]: validates a relay or agent config file, reporting every problem.
#include <iostream>
#include <string>

#include "app/commands.hpp"
#include "config/config.hpp"

namespace porthole::app {

namespace {

int check(const std::string& path) {
  auto any = config::load_config(path);
  if (!any) {
    std::cerr << any.error().message << "\n";
    return 2;
  }
  if (any->kind == config::FileKind::relay) {
    std::cout << path << ": ok (relay config)\n";
  } else {
    auto n = any->agent.tunnels.size();
    std::cout << path << ": ok (agent config, " << n << (n == 1 ? " tunnel)\n" : " tunnels)\n");
  }
  return 0;
}

}  // namespace

void add_config(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("config", "Work with porthole config files");
  sub->require_subcommand(1);
  auto* chk = sub->add_subcommand(
      "check", "Check a relay.toml or porthole.toml (agent) file; print every problem as FILE:LINE: KEY");
  auto path = std::make_shared<std::string>();
  chk->add_option("FILE", *path,
                  "config file (default: $XDG_CONFIG_HOME/porthole/porthole.toml, else "
                  "~/.config/porthole/porthole.toml)");
  chk->callback([&run, path] {
    run = [path] { return check(path->empty() ? config::default_agent_config_path() : *path); };
  });
}

}  // namespace porthole::app
