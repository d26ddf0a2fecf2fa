#include "app/sample_app.hpp"

#include <string>

#include <fmt/format.h>

#include "net/listen.hpp"

namespace porthole::app {

namespace asio = net::asio;

namespace {

net::Task<void> serve(net::tcp::socket s, std::uint64_t n) {
  std::string req;
  auto [ec, len] = co_await asio::async_read_until(s, asio::dynamic_buffer(req, 16 * 1024), "\r\n\r\n", net::use_nothrow);
  if (ec) co_return;
  const auto body = fmt::format(
      "<!doctype html><title>porthole demo</title><h1>Hello from porthole</h1>"
      "<p>This page is served by a sample app on a private port, reached through the relay "
      "and the agent (request #{}).</p>\n",
      n);
  const auto resp = fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  co_await asio::async_write(s, asio::buffer(resp), net::use_nothrow);
  net::error_code ignored;
  s.shutdown(net::tcp::socket::shutdown_send, ignored);
}

net::Task<void> accept_loop(std::shared_ptr<net::tcp::acceptor> acc) {
  std::uint64_t n = 0;
  for (;;) {
    auto [ec, s] = co_await acc->async_accept(net::use_nothrow);
    if (ec == asio::error::operation_aborted) break;
    if (ec) continue;
    asio::co_spawn(acc->get_executor(), serve(std::move(s), ++n), asio::detached);
  }
}

}  // namespace

Result<std::uint16_t> start_sample_app(asio::io_context& io) {
  auto acc = net::listen_tcp(io.get_executor(), "127.0.0.1", 0);
  if (!acc) return acc.error();
  std::shared_ptr<net::tcp::acceptor> shared = std::move(*acc);
  net::error_code ec;
  const auto port = shared->local_endpoint(ec).port();
  asio::co_spawn(io, accept_loop(shared), asio::detached);
  return port;
}

}  // namespace porthole::app
