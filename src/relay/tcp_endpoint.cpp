#include "relay/tcp_endpoint.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "net/listen.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "proto/messages.hpp"
#include "relay/endpoint_kinds.hpp"
#include "relay/policy_step.hpp"
#include "relay/port_choice.hpp"
#include "relay/proxy_sniff.hpp"

namespace porthole::relay {

namespace asio = net::asio;

namespace {
std::uint16_t port_of(const net::tcp::acceptor& a) {
  net::error_code ec;
  return a.local_endpoint(ec).port();
}
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

TcpEndpoint::TcpEndpoint(std::unique_ptr<net::tcp::acceptor> acceptor, std::string token, std::string public_url,
                         std::shared_ptr<const ProxyGate> proxy_gate)
    : Endpoint("tcp", std::to_string(port_of(*acceptor)), std::move(token), std::move(public_url)),
      acceptor_(std::move(acceptor)),
      proxy_gate_(std::move(proxy_gate)),
      port_(port_of(*acceptor_)) {}

TcpEndpoint::~TcpEndpoint() { stop(); }

void TcpEndpoint::start() {
  auto self = std::static_pointer_cast<TcpEndpoint>(shared_from_this());
  asio::co_spawn(acceptor_->get_executor(), [self] { return self->accept_loop(); }, asio::detached);
}

void TcpEndpoint::stop() {
  net::error_code ec;
  acceptor_->close(ec);
}

net::Task<void> TcpEndpoint::accept_loop() {
  auto self = shared_from_this();  // the loop keeps the endpoint alive until its listener closes
  while (acceptor_->is_open()) {
    net::tcp::endpoint peer;  // filled by accept(2) itself: no getpeername per visitor
    auto [ec, sock] = co_await acceptor_->async_accept(peer, net::use_nothrow);
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) break;
    if (ec) {
      accept_errors().inc();
      spdlog::warn("endpoint {}: accept failed: {}", public_url(), ec.message());
      co_await net::sleep_for(std::chrono::milliseconds(50));  // e.g. out of descriptors: back off
      continue;
    }
    asio::co_spawn(acceptor_->get_executor(),
                   [me = std::static_pointer_cast<TcpEndpoint>(self), s = std::move(sock), peer]() mutable {
                     return me->serve(std::move(s), peer);
                   },
                   asio::detached);
  }
}

net::Task<void> TcpEndpoint::serve(net::tcp::socket visitor, net::tcp::endpoint peer) {
  net::error_code local_ec;
  const auto local = visitor.local_endpoint(local_ec);
  net::TcpStream vs(std::move(visitor));
  // PROXY protocol step (relay/proxy_sniff.hpp): the visitor address is the one a trusted
  // proxy's header carries; a header from anyone else fails the read. Read through front.stream.
  auto front = co_await proxy_gate_->accept(vs, peer, local);
  if (!front) {
    spdlog::debug("endpoint {}: {}", public_url(), front.error().message);
    vs.abort(front.error().message);
    co_return;
  }
  // Policy step (policy_step.cpp): the operator's rules, then the endpoint's, on the address
  // the PROXY step settled on.
  if (!tcp_allowed(*this, front->ip)) {
    vs.abort("denied by policy");
    co_return;
  }
  auto pick = this->pick();
  if (!pick) {
    visitors_refused().inc();
    vs.abort("no agent");
    co_return;
  }
  const auto& visitor_addr = front->addr;
  auto stream = pick->session().open_stream(proto::encode(proto::OpenMeta{pick->tunnel(), visitor_addr, "", front->dest}));
  if (!stream) {
    visitors_refused().inc();
    vs.abort(stream.error().message);
    co_return;
  }
  visitors_accepted().inc();
  count_visitor();
  open_gauge().add(1);
  auto r = co_await net::pump(*front->stream, **stream);
  open_gauge().add(-1);
  bytes_in().inc(r.a_to_b);
  bytes_out().inc(r.b_to_a);
  spdlog::debug("endpoint {}: visitor {} done: {} bytes in, {} out{}{}", public_url(), visitor_addr, r.a_to_b,
                r.b_to_a, r.error.empty() ? "" : ", ", r.error);
}

Result<Bound> bind_tcp(BindContext& ctx, const BindRequest& req) {
  const auto& token = req.token.name;
  const auto& tunnel = req.bind.tunnel;
  const auto reserved = ctx.store.reserved_port(token, tunnel);
  // The endpoint may exist already: this agent back on a new session, or a pool member.
  if (const auto existing = req.bind.remote_port ? req.bind.remote_port : reserved) {
    if (auto ep = ctx.registry.find("tcp", std::to_string(*existing))) {
      if (ep->token() != token) return make_error(Errc::conflict, "port {} is held by another token", *existing);
      return Bound{ep, attach_member(*ep, req)};
    }
  }
  const auto allowed = allowed_port_range(req.token.scopes, ctx.cfg.tcp_ports);
  if (!allowed) {
    return make_error(Errc::forbidden, "the token's allowed ports ({}) do not overlap the relay's --tcp-ports {}-{}",
                      format_port_scope(req.token.scopes.allow_port), ctx.cfg.tcp_ports.lo, ctx.cfg.tcp_ports.hi);
  }
  PortRequest pr;
  pr.asked = req.bind.remote_port;
  pr.reserved = reserved;
  pr.allowed = *allowed;
  std::unique_ptr<net::tcp::acceptor> acceptor;
  std::string last_error;
  auto usable = [&](std::uint16_t p) {
    if (ctx.store.port_reserved_by_other(p, token, tunnel) || ctx.registry.find("tcp", std::to_string(p))) return false;
    auto acc = net::listen_tcp(ctx.io.get_executor(), ctx.listen_host, p);
    if (!acc) {
      last_error = acc.error().message;
      return false;
    }
    acceptor = std::move(*acc);
    return true;
  };
  auto port = choose_port(pr, usable);
  if (!port) return make_error("{}{}{}", port.error().message, last_error.empty() ? "" : ": ", last_error);
  if (auto r = ctx.store.reserve_port(token, tunnel, *port); !r) {
    spdlog::warn("could not record the reservation of port {}: {}", *port, r.error().message);
  }
  auto gate = ProxyGate::make(ctx.cfg);
  if (!gate) return gate.error();
  auto ep = std::make_shared<TcpEndpoint>(std::move(acceptor), token,
                                          fmt::format("tcp://{}", format_host_port(ctx.public_host, *port)),
                                          std::move(*gate));
  auto displaced = attach_member(*ep, req);
  ep->start();
  ctx.registry.add(ep, false);
  return Bound{ep, std::move(displaced)};
}

}  // namespace porthole::relay
