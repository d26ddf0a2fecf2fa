// Running a long-lived command: the io_context, SIGINT/SIGTERM for a graceful stop (a second
// signal stops at once), and SIGHUP left to the caller.
#pragma once

#include <functional>

#include "net/asio.hpp"

namespace porthole::app {

// `graceful_stop(done)` must eventually call done(exit_status). Returns that status.
// `fatal` lets the running component end the process early with a status.
using GracefulStop = std::function<void(std::function<void(int)> done)>;
int serve_until_signal(net::asio::io_context& io, const GracefulStop& graceful_stop);

}  // namespace porthole::app
