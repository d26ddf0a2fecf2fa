// `porthole forward` once its flags are read: loads the rules, runs the Forwarder, reloads the
// rules file on SIGHUP and on change (an invalid file is rejected whole, naming file:line, and
// the running rules stay), stops on SIGINT/SIGTERM.
#pragma once

#include <string>
#include <vector>

#include "forward/forwarder.hpp"
#include "forward/rules.hpp"

namespace porthole::app {

struct ForwardSettings {
  std::vector<forward::Rule> flag_rules;  // from the command line: fixed for the run
  std::string rules_file;                 // "" = none
  std::string metrics_addr;               // "" = none
  forward::ForwarderOptions options;
};

int run_forward(const ForwardSettings& s);

}  // namespace porthole::app
