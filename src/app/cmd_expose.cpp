// porthole tcp PORT|HOST:PORT [--remote-port P]: expose a local TCP service through the relay.
#include <iostream>
#include <memory>

#include "app/agent_options.hpp"
#include "app/commands.hpp"

namespace porthole::app {

namespace {

struct ExposeOptions {
  AgentFlags agent;
  std::string target;
  int remote_port = 0;
};

int run_tcp(const ExposeOptions& o) {
  auto cfg = resolve_agent_config(o.agent);
  if (!cfg) {
    std::cerr << "porthole: " << cfg.error().message << "\n";
    return 2;
  }
  auto local = parse_host_port(o.target, "127.0.0.1");
  if (!local) {
    std::cerr << "porthole tcp: " << local.error().message << "\n";
    return 2;
  }
  config::TunnelConfig t;
  t.name = "tcp-" + std::to_string(local->port);
  t.proto = "tcp";
  t.local = *local;
  if (o.remote_port > 0) t.remote_port = static_cast<std::uint16_t>(o.remote_port);
  cfg->tunnels.clear();  // the command line says what to expose
  cfg->tunnels.push_back(t);
  return run_agent(std::move(*cfg));
}

}  // namespace

void add_expose(CLI::App& app, Run& run) {
  auto o = std::make_shared<ExposeOptions>();
  auto* sub = app.add_subcommand("tcp", "Expose a local TCP service on a public port of the relay (like ssh -R)");
  sub->add_option("target", o->target, "PORT or HOST:PORT of the local service")->required();
  sub->add_option("--remote-port", o->remote_port, "Ask for this public port")->check(CLI::Range(1, 65535));
  add_agent_flags(*sub, o->agent);
  sub->callback([o, &run] { run = [o] { return run_tcp(*o); }; });
}

}  // namespace porthole::app
