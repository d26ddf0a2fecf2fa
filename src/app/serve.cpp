#include "app/serve.hpp"

#include <csignal>

#include <spdlog/spdlog.h>

namespace porthole::app {

int serve_until_signal(net::asio::io_context& io, const GracefulStop& graceful_stop) {
  int status = 0;
  bool stopping = false;
  net::asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(const net::error_code&, int)> on_signal = [&](const net::error_code& ec, int sig) {
    if (ec) return;
    if (stopping) {
      spdlog::warn("second signal: stopping now");
      io.stop();
      return;
    }
    stopping = true;
    spdlog::info("{}: finishing open connections (signal again to stop now)", sig == SIGINT ? "SIGINT" : "SIGTERM");
    signals.async_wait(on_signal);
    graceful_stop([&](int s) {
      status = s;
      io.stop();
    });
  };
  signals.async_wait(on_signal);
  // SIGHUP must not kill a process someone expects to reload: reload is not built yet (docs/config.md).
  net::asio::signal_set hup(io, SIGHUP);
  std::function<void(const net::error_code&, int)> on_hup = [&](const net::error_code& ec, int) {
    if (ec) return;
    spdlog::warn("SIGHUP: reloading the configuration is not supported yet; restart to apply a changed file");
    hup.async_wait(on_hup);
  };
  hup.async_wait(on_hup);
  std::signal(SIGPIPE, SIG_IGN);
  io.run();
  return status;
}

}  // namespace porthole::app
