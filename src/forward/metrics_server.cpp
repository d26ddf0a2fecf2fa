#include "forward/metrics_server.hpp"

#include <fmt/format.h>

#include "core/address.hpp"
#include "core/metrics.hpp"
#include "net/listen.hpp"
#include "net/watchdog.hpp"

namespace porthole::forward {

Result<std::shared_ptr<MetricsServer>> MetricsServer::start(const net::Executor& ex, const std::string& addr) {
  auto hp = parse_host_port(addr, "127.0.0.1", true);
  if (!hp) return make_error("--metrics: {}", hp.error().message);
  auto acc = net::listen_tcp(ex, hp->host, hp->port);
  if (!acc) return make_error("--metrics: {}", acc.error().message);
  std::shared_ptr<MetricsServer> s(new MetricsServer(std::move(*acc)));
  net::asio::co_spawn(ex, [s] { return s->loop(); }, net::asio::detached);
  return s;
}

MetricsServer::MetricsServer(std::unique_ptr<net::tcp::acceptor> acc) : acc_(std::move(acc)) {
  net::error_code ec;
  port_ = acc_->local_endpoint(ec).port();
}

void MetricsServer::stop() {
  net::error_code ec;
  acc_->close(ec);
}

net::Task<void> MetricsServer::loop() {
  auto self = shared_from_this();
  net::OnAccept spawn = [this](net::tcp::socket s, const net::tcp::endpoint&) {
    net::asio::co_spawn(acc_->get_executor(), answer(std::move(s)), net::asio::detached);
  };
  co_await net::accept_each(*acc_, std::move(spawn));
}

net::Task<void> MetricsServer::answer(net::tcp::socket s) {
  net::Watchdog deadline(s.get_executor());
  deadline.arm(std::chrono::seconds(5), [&s] {
    net::error_code e;
    s.close(e);
  });
  std::string head;
  char buf[1024];
  while (head.find("\r\n\r\n") == std::string::npos && head.size() < 8192) {
    auto [ec, n] = co_await s.async_read_some(net::asio::buffer(buf), net::use_nothrow);
    if (ec) co_return;
    head.append(buf, n);
  }
  const auto body = metrics::render_prometheus();
  const auto reply = fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  auto [wec, wn] = co_await net::asio::async_write(s, net::asio::buffer(reply), net::use_nothrow);
  (void)wec;
  (void)wn;
  net::error_code e;
  s.shutdown(net::tcp::socket::shutdown_send, e);
}

}  // namespace porthole::forward
