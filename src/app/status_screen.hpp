// The ngrok-like status screen on a terminal (inspect/screen.hpp draws the frame): the
// alternate screen, redrawn in place every second and on each captured request — the cursor
// goes home and every line is rewritten and cleared to its end, so nothing flickers — at the
// terminal's size (SIGWINCH). `q` quits like Ctrl-C (SIGINT to ourselves, so the one graceful
// path runs). While it shows, log lines go to a ring (warnings are shown on the screen and
// printed to stderr when it closes). Plain ANSI (CSI H, K, J, ?1049h, ?25l), not ncurses: see
// docs/inspector.md.
#pragma once

#include <memory>
#include <string>

#include "agent/agent.hpp"
#include "inspect/recorder.hpp"

namespace porthole::app {

class StatusScreen {
 public:
  // True when stdin and stdout are terminals.
  static bool available();
  StatusScreen(net::asio::io_context& io, agent::Agent& agent, std::shared_ptr<inspect::Recorder> recorder,
               std::string web_interface);
  ~StatusScreen();  // gives the terminal back as it was
  StatusScreen(const StatusScreen&) = delete;
  StatusScreen& operator=(const StatusScreen&) = delete;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace porthole::app
