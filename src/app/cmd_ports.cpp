// porthole ports [--all] [--json]: what listens here (like `ss -tulnp`), see src/diag/ports.hpp.
#include <iostream>

#include "app/commands.hpp"
#include "diag/ports.hpp"

namespace porthole::app {

void add_ports(CLI::App& app, Run& run) {
  struct Opts {
    bool all = false;
    bool json = false;
  };
  static Opts opts;
  auto* sub = app.add_subcommand(
      "ports",
      "What listens on this machine: TCP listeners and bound UDP sockets, IPv4 and IPv6, the "
      "owning process, the usual service of the port and whether it is loopback-only or exposed");
  sub->add_flag("--all", opts.all,
                "Every TCP/UDP socket, also established connections and connected UDP (like `ss -tuanp`)");
  sub->add_flag("--json", opts.json, "Machine-readable output");
  sub->callback([&run] {
    run = [] {
      auto entries = diag::list_ports({.all = opts.all});
      if (!entries) {
        std::cerr << "porthole: ports: " << entries.error().message << "\n";
        return 1;
      }
      if (opts.json) {
        std::cout << diag::ports_to_json(*entries).dump(2) << "\n";
      } else {
        std::cout << diag::render_ports_text(*entries, opts.all);
      }
      return 0;
    };
  });
}

}  // namespace porthole::app
