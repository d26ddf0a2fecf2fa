// The agent's terminal status screen, as text (like ngrok's): session status, account, version,
// relay, latency, web interface, one Forwarding line per tunnel, the connection counters, the
// latest HTTP requests. Pure: a model in, the lines of one frame out, cut to the terminal's
// width and height. The terminal I/O is app/status_screen.cpp.
#pragma once

#include <string>
#include <vector>

#include "inspect/api.hpp"

namespace porthole::inspect {

struct ScreenModel {
  StatusInfo status;
  std::vector<TunnelInfo> tunnels;
  std::string web_interface;  // "" when off
  std::vector<ExchangePtr> latest;  // newest first
  std::vector<std::string> notes;   // the latest warnings, newest last
};

// At most `rows` lines of at most `cols` characters (bytes: the frame is ASCII but for what
// visitors sent, which is cut and has control characters replaced).
std::vector<std::string> render_screen(const ScreenModel& m, int cols, int rows);

}  // namespace porthole::inspect
