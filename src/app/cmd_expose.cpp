// TEMPORARY: replaced by the real command.
#include "app/commands.hpp"

#include <iostream>

namespace porthole::app {

void add_expose(CLI::App& app, Run& run) {
  auto* sub = app.add_subcommand("tcp", "(not built yet)");
  sub->callback([&run] {
    run = [] {
      std::cerr << "porthole: tcp is not built yet\n";
      return 1;
    };
  });
}

}  // namespace porthole::app
