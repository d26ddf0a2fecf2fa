#include "relay/tcp_endpoint.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "net/pump.hpp"
#include "net/signal.hpp"
#include "net/tcp_stream.hpp"
#include "proto/messages.hpp"

namespace porthole::relay {

namespace asio = net::asio;

namespace {
metrics::Counter& visitors_accepted() {
  static auto& c = metrics::counter("porthole_relay_visitors_total", "Visitor connections accepted on TCP endpoints");
  return c;
}
metrics::Counter& visitors_refused() {
  static auto& c = metrics::counter("porthole_relay_visitors_refused_total{reason=\"no_agent\"}",
                                    "Visitor connections refused");
  return c;
}
metrics::Counter& accept_errors() {
  static auto& c = metrics::counter("porthole_relay_accept_errors_total", "accept() failures on endpoints");
  return c;
}
metrics::Gauge& open_gauge() {
  static auto& g = metrics::gauge("porthole_relay_visitors_open", "Visitor connections open now");
  return g;
}
metrics::Counter& bytes_in() {
  static auto& c = metrics::counter("porthole_relay_visitor_bytes_total{dir=\"in\"}", "Bytes from/to visitors");
  return c;
}
metrics::Counter& bytes_out() {
  static auto& c = metrics::counter("porthole_relay_visitor_bytes_total{dir=\"out\"}", "Bytes from/to visitors");
  return c;
}
}  // namespace

TcpEndpoint::TcpEndpoint(std::unique_ptr<net::tcp::acceptor> acceptor, std::string tunnel, std::string public_url)
    : acceptor_(std::move(acceptor)), tunnel_(std::move(tunnel)), public_url_(std::move(public_url)) {
  net::error_code ec;
  port_ = acceptor_->local_endpoint(ec).port();
}

TcpEndpoint::~TcpEndpoint() { stop(); }

void TcpEndpoint::start() {
  asio::co_spawn(acceptor_->get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
                 asio::detached);
}

void TcpEndpoint::stop() {
  net::error_code ec;
  acceptor_->close(ec);
}

std::string TcpEndpoint::agent_id() const {
  auto s = session_.lock();
  return s ? s->id() : std::string();
}

net::Task<void> TcpEndpoint::accept_loop() {
  while (acceptor_->is_open()) {
    net::tcp::endpoint peer;  // filled by accept(2) itself: no getpeername per visitor
    auto [ec, sock] = co_await acceptor_->async_accept(peer, net::use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) break;
    if (ec) {
      accept_errors().inc();
      spdlog::warn("endpoint {}: accept failed: {}", public_url_, ec.message());
      co_await net::sleep_for(std::chrono::milliseconds(50));  // e.g. out of descriptors: back off
      continue;
    }
    auto session = session_.lock();
    if (!session || session->closed()) {
      visitors_refused().inc();
      net::TcpStream(std::move(sock)).abort("no agent");
      continue;
    }
    asio::co_spawn(acceptor_->get_executor(),
                   [self = shared_from_this(), s = std::move(sock), peer]() mutable {
                     return self->serve(std::move(s), peer);
                   },
                   asio::detached);
  }
}

net::Task<void> TcpEndpoint::serve(net::tcp::socket visitor, net::tcp::endpoint peer) {
  const auto visitor_addr = net::format_endpoint(peer);
  net::TcpStream vs(std::move(visitor));
  auto session = session_.lock();
  if (!session) co_return;
  auto stream = session->open_stream(proto::encode(proto::OpenMeta{tunnel_, visitor_addr}));
  if (!stream) {
    visitors_refused().inc();
    vs.abort(stream.error().message);
    co_return;
  }
  session.reset();  // the stream keeps the session alive while it needs it
  visitors_accepted().inc();
  ++visitors_total_;
  ++visitors_open_;
  open_gauge().add(1);
  auto r = co_await net::pump(vs, **stream);
  --visitors_open_;
  open_gauge().add(-1);
  bytes_in().inc(r.a_to_b);
  bytes_out().inc(r.b_to_a);
  spdlog::debug("endpoint {}: visitor {} done: {} bytes in, {} out{}{}", public_url_, visitor_addr, r.a_to_b,
                r.b_to_a, r.error.empty() ? "" : ", ", r.error);
}

}  // namespace porthole::relay
