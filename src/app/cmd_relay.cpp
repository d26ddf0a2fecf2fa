// TEMPORARY: replaced by the real command.
#include "app/commands.hpp"

#include <iostream>

namespace porthole::app {

void add_relay(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("relay", "(not built yet)");
  sub->callback([&run] {
    run = [] {
      std::cerr << "porthole: relay is not built yet\n";
      return 1;
    };
  });
}

}  // namespace porthole::app
