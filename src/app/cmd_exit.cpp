// porthole exit NAME --allow-dest CIDR|HOST[:PORTS]...: an agent that lets `porthole socks
// --via NAME` traffic out into its network, to the allowed destinations only (docs/socks.md).
// The name is a private name (ownership and scopes like `porthole tcp --private`).
#include <fstream>
#include <iostream>
#include <memory>

#include "app/agent_options.hpp"
#include "app/commands.hpp"
#include "core/hostname.hpp"
#include "policy/dest_check.hpp"

namespace porthole::app {

namespace {

struct ExitOptions {
  AgentFlags agent;
  std::string name;
  std::vector<std::string> allow_dest;
  std::string hosts_file;
};

int run_exit(const ExitOptions& o) {
  auto cfg = resolve_agent_config(o.agent);
  if (!cfg) {
    std::cerr << "porthole: " << cfg.error().message << "\n";
    return 2;
  }
  auto name = normalize_private_name(o.name);
  if (!name) {
    std::cerr << "porthole exit: " << o.name << ": " << name.error().message << "\n";
    return 2;
  }
  auto pol = policy::DestPolicy::parse(o.allow_dest);
  if (!pol) {
    std::cerr << "porthole exit: " << pol.error().message << "\n";
    return 2;
  }
  if (pol->empty()) {
    std::cerr << "porthole exit: no --allow-dest: this exit would refuse everything (give e.g. --allow-dest "
                 "10.0.0.0/8:22,80,443 or --allow-dest intranet.example:443)\n";
    return 2;
  }
  if (!o.hosts_file.empty() && !std::ifstream(o.hosts_file)) {
    std::cerr << "porthole exit: --hosts-file " << o.hosts_file << ": cannot be read\n";
    return 2;
  }
  config::TunnelConfig t;
  t.name = !o.agent.name.empty() ? o.agent.name : "exit-" + *name;
  t.proto = "exit";
  t.private_name = *name;
  t.allow_dest = o.allow_dest;
  t.hosts_file = o.hosts_file;
  cfg->tunnels.clear();
  cfg->tunnels.push_back(std::move(t));
  return run_agent(std::move(*cfg), o.agent);
}

}  // namespace

void add_exit(CLI::App& app, Run& run) {
  auto o = std::make_shared<ExitOptions>();
  auto* sub = app.add_subcommand("exit", "An agent that `porthole socks --via NAME` connections leave from, to allowed "
                                         "destinations only");
  sub->add_option("name", o->name, "The exit's private name (socks clients give it to --via)")->required();
  sub->add_option("--allow-dest", o->allow_dest,
                  "Where connections may go: CIDR|ADDRESS|HOST|*.DOMAIN, optionally :PORTS (22 / 8000-8100 / "
                  "80,443); IPv6 with ports in brackets. Repeatable. Loopback, link-local, multicast and this "
                  "host's own addresses only when listed narrowly")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_option("--hosts-file", o->hosts_file,
                  "Resolve names listed in this /etc/hosts-style file to its addresses (checked like any other)");
  add_agent_flags(*sub, o->agent);
  sub->callback([o, &run] { run = [o] { return run_exit(*o); }; });
}

}  // namespace porthole::app
