// porthole doctor [PORT] [--relay HOST:PORT --token T] [--json]: why is this port (not)
// reachable, and what to do. Facts are gathered in src/diag/gather.cpp, judged by diagnose().
#include <cstdlib>
#include <iostream>

#include "app/commands.hpp"
#include "config/config.hpp"
#include "core/address.hpp"
#include "diag/gather.hpp"
#include "diag/report.hpp"

namespace porthole::app {

namespace {

struct DoctorOpts {
  std::string port;
  std::string relay;
  std::string token;
  std::string relay_fingerprint;
  std::string relay_ca;
  std::string gateway;
  int timeout_ms = 2000;
  bool json = false;
};

int run_doctor(const DoctorOpts& o) {
  diag::GatherOptions g;
  if (!o.port.empty()) {
    auto p = parse_port(o.port);
    if (!p) {
      std::cerr << "porthole: doctor: PORT: " << p.error().message << "\n";
      return 2;
    }
    g.port = *p;
  }
  std::string relay = o.relay;
  std::string token = o.token;
  if (relay.empty() && std::getenv("PORTHOLE_RELAY")) relay = std::getenv("PORTHOLE_RELAY");
  if (token.empty() && std::getenv("PORTHOLE_TOKEN")) token = std::getenv("PORTHOLE_TOKEN");
  if (!relay.empty()) {
    if (auto hp = parse_host_port(relay, "", false); !hp) {
      std::cerr << "porthole: doctor: --relay: " << hp.error().message << "\n";
      return 2;
    }
    config::AgentConfig cfg;
    cfg.relay = relay;
    cfg.token = token;
    // Trust as `porthole tcp` does: a pinned fingerprint, a CA, else known_relays (TOFU).
    if (!o.relay_fingerprint.empty()) {
      auto fp = config::normalize_fingerprint(o.relay_fingerprint);
      if (!fp) {
        std::cerr << "porthole: doctor: --relay-fingerprint: " << fp.error().message << "\n";
        return 2;
      }
      cfg.relay_fingerprint = *fp;
    }
    cfg.relay_ca = o.relay_ca;
    g.relay = cfg;
  }
  if (!o.gateway.empty()) g.router.gateway = o.gateway;
  g.router.timeout = std::chrono::milliseconds(o.timeout_ms);
  auto facts = diag::gather_facts(g);
  auto report = diag::diagnose(facts);
  if (o.json) {
    std::cout << diag::report_to_json(report, facts).dump(2) << "\n";
  } else {
    std::cout << diag::render_report_text(report, facts);
  }
  return report.has_failures() ? 1 : 0;
}

}  // namespace

void add_doctor(CLI::App& app, Run& run) {
  static DoctorOpts opts;
  auto* sub = app.add_subcommand("doctor",
                                 "Why is this port (not) reachable from outside, and what to do: a checklist "
                                 "(listening, firewall, gateway, router UPnP/NAT-PMP/PCP, double NAT/CGNAT, "
                                 "reachability via the relay) ending with one recommendation");
  sub->add_option("PORT", opts.port, "TCP port of the local service to check");
  sub->add_option("--relay", opts.relay,
                  "Relay HOST:PORT that tests reachability from outside (env PORTHOLE_RELAY)");
  sub->add_option("--token", opts.token, "Agent token for the relay (env PORTHOLE_TOKEN)");
  sub->add_option("--relay-fingerprint", opts.relay_fingerprint, "Expected SHA-256 of the relay certificate");
  sub->add_option("--relay-ca", opts.relay_ca, "CA bundle that signs the relay certificate");
  sub->add_option("--gateway", opts.gateway, "Ask this router instead of the default gateway");
  sub->add_option("--timeout-ms", opts.timeout_ms, "Per-method router timeout")
      ->capture_default_str()
      ->check(CLI::Range(100, 60000));
  sub->add_flag("--json", opts.json, "Machine-readable output");
  sub->callback([&run] { run = [] { return run_doctor(opts); }; });
}

}  // namespace porthole::app
