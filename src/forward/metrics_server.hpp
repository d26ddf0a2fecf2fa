// A minimal HTTP endpoint for Prometheus: every request gets /metrics (the process's counters
// in text format) and the connection closes. The request is not parsed beyond finding the end
// of its head (8 KiB at most, 5 s at most), so there is nothing to fuzz.
#pragma once

#include <memory>
#include <string>

#include "core/result.hpp"
#include "net/asio.hpp"

namespace porthole::forward {

class MetricsServer : public std::enable_shared_from_this<MetricsServer> {
 public:
  static Result<std::shared_ptr<MetricsServer>> start(const net::Executor& ex, const std::string& addr);
  std::uint16_t port() const { return port_; }
  void stop();

 private:
  explicit MetricsServer(std::unique_ptr<net::tcp::acceptor> acc);
  net::Task<void> loop();
  static net::Task<void> answer(net::tcp::socket s);
  std::unique_ptr<net::tcp::acceptor> acc_;
  std::uint16_t port_ = 0;
};

}  // namespace porthole::forward
