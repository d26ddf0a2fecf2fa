// porthole: one binary, many subcommands (see src/app/commands.hpp).
#include <iostream>

#include "app/commands.hpp"
#include "core/log.hpp"

#ifndef PORTHOLE_VERSION
#define PORTHOLE_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  using namespace porthole;
  CLI::App app{"porthole: make services on private machines reachable, safely", "porthole"};
  app.set_version_flag("--version", std::string("porthole ") + PORTHOLE_VERSION);
  app.require_subcommand(0, 1);
  app.fallthrough();
  std::string level = "info";
  std::string format = "text";
  app.add_option("--log-level", level, "trace|debug|info|warn|error|off")->capture_default_str();
  app.add_option("--log-format", format, "text|json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app::Run run;
  for (auto add : app::kCommands) add(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (auto r = log::init(level, format == "json" ? log::Format::json : log::Format::text); !r) {
    std::cerr << "porthole: " << r.error().message << "\n";
    return 2;
  }
  if (!run) {
    std::cout << app.help();
    return 2;
  }
  return run();
}
