#include "forward/tcp_forward.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "forward/splice.hpp"
#include "net/tcp_stream.hpp"
#include "net/unix_socket.hpp"
#include "net/watchdog.hpp"

namespace porthole::forward {

namespace {

using net::tcp;

struct TcpStats {
  metrics::Counter& accepted = metrics::counter("porthole_forward_connections_total{proto=\"tcp\"}",
                                                "Connections accepted by forwarding rules");
  metrics::Counter& denied = metrics::counter("porthole_forward_denied_total{proto=\"tcp\"}",
                                              "Peers refused by a rule's allow list (TCP: reset; UDP: datagram dropped)");
  metrics::Counter& connect_errors = metrics::counter(
      "porthole_forward_connect_errors_total", "Forwarded TCP connections whose target refused or did not answer");
  metrics::Counter& accept_errors =
      metrics::counter("porthole_forward_accept_errors_total", "accept(2) failures (e.g. out of descriptors)");
  metrics::Counter& bytes_up = metrics::counter("porthole_forward_bytes_total{direction=\"to_target\"}",
                                                "Bytes forwarded by TCP rules");
  metrics::Counter& bytes_down = metrics::counter("porthole_forward_bytes_total{direction=\"to_visitor\"}",
                                                  "Bytes forwarded by TCP rules");
  metrics::Gauge& open = metrics::gauge("porthole_forward_open_connections", "Forwarded TCP connections open now");
};

TcpStats& stats() {
  static TcpStats s;
  return s;
}

void tune(tcp::socket& s) {
  net::error_code ec;
  s.set_option(tcp::no_delay(true), ec);
  s.non_blocking(true, ec);
}

// Non-blocking connect to one address with a deadline (no resolver, no parallel group).
net::Task<Result<tcp::socket>> connect_endpoint(net::Executor ex, tcp::endpoint ep, std::chrono::milliseconds timeout) {
  tcp::socket s(ex);
  net::error_code ec;
  s.open(ep.protocol(), ec);
  if (ec) co_return make_error(Errc::refused, "socket: {}", ec.message());
  s.non_blocking(true, ec);
  if (::connect(s.native_handle(), ep.data(), static_cast<socklen_t>(ep.size())) != 0) {
    if (errno != EINPROGRESS) {
      co_return make_error(Errc::refused, "cannot connect to {}: {}", net::format_endpoint(ep), std::strerror(errno));
    }
    net::Watchdog deadline(ex);
    deadline.arm(timeout, [&s] {
      net::error_code e;
      s.cancel(e);
    });
    auto [wec] = co_await s.async_wait(tcp::socket::wait_write, net::use_nothrow);
    if (deadline.fired()) {
      co_return make_error(Errc::timed_out, "connecting to {} timed out after {} ms", net::format_endpoint(ep), timeout.count());
    }
    deadline.disarm();
    if (wec) co_return make_error(Errc::refused, "cannot connect to {}: {}", net::format_endpoint(ep), wec.message());
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(s.native_handle(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      co_return make_error(Errc::refused, "cannot connect to {}: {}", net::format_endpoint(ep), std::strerror(err));
    }
  }
  co_return std::move(s);
}

}  // namespace

net::Task<Result<tcp::socket>> connect_target(net::Executor ex, std::string host, std::uint16_t port,
                                              std::chrono::milliseconds timeout) {
  if (const HostPort at{host, port}; is_unix_address(at)) {  // "unix:/path" (rules_codec.cpp)
    std::string path(unix_path(at));
    auto r = co_await net::dial_unix(std::move(path), timeout);
    co_return r;
  }
  net::error_code ec;
  const auto addr = net::asio::ip::make_address(host, ec);
  if (!ec) {
    auto r = co_await connect_endpoint(ex, tcp::endpoint(addr, port), timeout);
    co_return r;
  }
  auto r = co_await net::dial(std::move(host), port, timeout);  // a name: resolved now, every time
  co_return r;
}

TcpAcceptor::TcpAcceptor(const net::Executor& ex, Fd fd, Listener rule, TcpOptions opts)
    : acceptor_(ex), rule_(std::move(rule)), opts_(opts) {
  auto addr = bind_address(rule_.bind_host);
  const auto protocol = addr && addr->is_v6() ? tcp::v6() : tcp::v4();
  net::error_code ec;
  acceptor_.assign(protocol, fd.release(), ec);
  for (const auto& c : rule_.allow) (void)allow_.add(c);  // checked by the parser
}

void TcpAcceptor::start() {
  net::asio::co_spawn(acceptor_.get_executor(), [self = shared_from_this()]() { return self->accept_loop(); },
                      net::asio::detached);
}

void TcpAcceptor::close() {
  net::error_code ec;
  acceptor_.close(ec);
}

net::Task<void> TcpAcceptor::accept_loop() {
  auto self = shared_from_this();  // the loop keeps its acceptor alive until close()
  auto ex = acceptor_.get_executor();
  for (;;) {
    auto [ec, sock] = co_await acceptor_.async_accept(net::use_nothrow);
    if (ec == net::asio::error::operation_aborted || !acceptor_.is_open()) co_return;
    if (ec) {
      stats().accept_errors.inc();
      spdlog::warn("forward {}: accept: {}", rule_.key(), ec.message());
      net::asio::steady_timer pause(ex, std::chrono::milliseconds(50));  // out of descriptors: let some close
      co_await pause.async_wait(net::use_nothrow);
      continue;
    }
    net::error_code pec;
    const auto peer = sock.remote_endpoint(pec);
    if (pec) continue;
    if (!allow_.empty() && !allow_.contains(to_policy_ip(peer.address()))) {
      stats().denied.inc();
      spdlog::debug("forward {}: {} is not on the allow list: reset", rule_.key(), net::format_endpoint(peer));
      reset_socket(sock);
      continue;
    }
    stats().accepted.inc();
    net::asio::co_spawn(ex, serve(self, std::move(sock)), net::asio::detached);
  }
}

net::Task<void> TcpAcceptor::serve(std::shared_ptr<TcpAcceptor> self, tcp::socket visitor) {
  auto ex = visitor.get_executor();
  const std::string key = self->rule_.key();
  auto up = co_await connect_target(ex, self->rule_.target_host, self->rule_.target_port, self->opts_.connect_timeout);
  if (!up) {
    stats().connect_errors.inc();
    spdlog::info("forward {}: {}: closing the visitor", key, up.error().message);
    reset_socket(visitor);  // as a router would: the visitor learns at once
    co_return;
  }
  auto a = std::make_shared<tcp::socket>(std::move(visitor));
  auto b = std::make_shared<tcp::socket>(std::move(*up));
  tune(*a);
  tune(*b);
  stats().open.add(1);
  start_relay(a, b, [a, b](const RelayTotals& t) {
    stats().bytes_up.inc(t.a_to_b);
    stats().bytes_down.inc(t.b_to_a);
    stats().open.add(-1);
    net::error_code ec;
    a->close(ec);
    b->close(ec);
  });
}

}  // namespace porthole::forward
