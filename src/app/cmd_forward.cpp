// porthole forward [BIND:]PORT:HOST:HOSTPORT... [--udp] [--allow CIDR]... [--rules FILE]:
// router-style forwarding rules in user space (docs/forward.md).
#include <iostream>
#include <memory>

#include "app/commands.hpp"
#include "app/forward_runner.hpp"

namespace porthole::app {

namespace {

struct ForwardFlags {
  std::vector<std::string> rules;
  bool udp = false;
  std::vector<std::string> allow;
  std::string rules_file;
  std::string metrics;
  unsigned threads = 0;
  double udp_idle_timeout = 60;
  std::size_t udp_max_flows = 4096;
  int connect_timeout_ms = 10'000;
};

int run(const ForwardFlags& f) {
  ForwardSettings s;
  for (const auto& arg : f.rules) {
    auto r = forward::parse_rule_arg(arg, f.udp ? forward::Proto::udp : forward::Proto::tcp, f.allow);
    if (!r) {
      std::cerr << "porthole forward: " << r.error().message << "\n";
      return 2;
    }
    s.flag_rules.push_back(std::move(*r));
  }
  if (s.flag_rules.empty() && f.rules_file.empty()) {
    std::cerr << "porthole forward: give a rule ([BIND:]PORT:HOST:HOSTPORT) or --rules FILE\n";
    return 2;
  }
  if (s.flag_rules.empty() && (!f.allow.empty() || f.udp)) {
    std::cerr << "porthole forward: --udp and --allow apply to rules on the command line; in a rules file write "
                 "`udp ...` and `allow CIDR,...` on the line\n";
    return 2;
  }
  s.rules_file = f.rules_file;
  s.metrics_addr = f.metrics;
  s.options.threads = f.threads;
  s.options.tcp.connect_timeout = std::chrono::milliseconds(f.connect_timeout_ms);
  s.options.udp.idle_timeout = std::chrono::milliseconds(static_cast<long>(f.udp_idle_timeout * 1000));
  s.options.udp.max_flows = f.udp_max_flows;
  return run_forward(s);
}

}  // namespace

void add_forward(CLI::App& app, Run& run_out) {
  auto f = std::make_shared<ForwardFlags>();
  auto* sub = app.add_subcommand(
      "forward", "Router-style port forwarding in user space: TCP (splice) and UDP rules, ranges, allow lists, a rules file");
  sub->add_option("rule", f->rules,
                  "[BIND:]PORT[-PORT]:HOST:HOSTPORT[-PORT] (BIND defaults to 127.0.0.1; IPv6 in brackets: [::1]:8080:[::1]:80)");
  sub->add_flag("--udp", f->udp, "The rules on the command line are UDP");
  sub->add_option("--allow", f->allow, "Only peers in this CIDR may use the command-line rules (repeatable; others: TCP RST, UDP dropped)");
  sub->add_option("--rules", f->rules_file,
                  "Rules file: `tcp|udp [BIND:]PORT[-PORT] HOST:PORT[-PORT] [allow CIDR,...]` a line, # comments; "
                  "reloaded on SIGHUP and on change");
  sub->add_option("--threads", f->threads, "Threads (default: one per core)")->check(CLI::Range(0, 256));
  sub->add_option("--udp-idle-timeout", f->udp_idle_timeout, "Seconds a UDP flow lives without traffic")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 86400.0));
  sub->add_option("--udp-max-flows", f->udp_max_flows, "UDP flows per rule port (the least recently used is evicted)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--connect-timeout", f->connect_timeout_ms, "Milliseconds to connect to a TCP target")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  sub->add_option("--metrics", f->metrics, "Serve Prometheus /metrics on [HOST:]PORT (e.g. 127.0.0.1:9100)");
  sub->callback([f, &run_out] { run_out = [f] { return run(*f); }; });
}

}  // namespace porthole::app
