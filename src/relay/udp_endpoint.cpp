#include "relay/udp_endpoint.hpp"

#include <spdlog/spdlog.h>

#include <cstring>

#include "core/metrics.hpp"
#include "net/tcp_stream.hpp"
#include "proto/messages.hpp"
#include "relay/endpoint_kinds.hpp"
#include "relay/port_choice.hpp"

namespace porthole::relay {

namespace asio = net::asio;
using net::udp;

namespace {

struct UdpStats {
  metrics::Counter& flows = metrics::counter("porthole_relay_udp_flows_total", "UDP flows opened on udp endpoints");
  metrics::Counter& evicted = metrics::counter("porthole_relay_udp_flows_evicted_total",
                                               "UDP flows evicted at the flow limit (least recently used)");
  metrics::Counter& expired = metrics::counter("porthole_relay_udp_flows_expired_total", "UDP flows ended when idle");
  metrics::Counter& in = metrics::counter("porthole_relay_udp_datagrams_total{dir=\"in\"}", "Visitor datagrams");
  metrics::Counter& out = metrics::counter("porthole_relay_udp_datagrams_total{dir=\"out\"}", "Visitor datagrams");
  metrics::Counter& no_agent = metrics::counter("porthole_relay_udp_dropped_total{reason=\"no_agent\"}",
                                                "Visitor datagrams dropped on udp endpoints, by reason");
  metrics::Counter& session_full = metrics::counter("porthole_relay_udp_dropped_total{reason=\"session\"}",
                                                    "Visitor datagrams dropped on udp endpoints, by reason");
  metrics::Counter& visitor_busy = metrics::counter("porthole_relay_udp_dropped_total{reason=\"visitor_busy\"}",
                                                    "Visitor datagrams dropped on udp endpoints, by reason");
  metrics::Gauge& open = metrics::gauge("porthole_relay_udp_flows", "UDP flows open now");
};
UdpStats& stats() {
  static UdpStats s;
  return s;
}

std::uint16_t port_of(const udp::socket& s) {
  net::error_code ec;
  return s.local_endpoint(ec).port();
}

std::string format_udp(const udp::endpoint& ep) {
  return net::format_endpoint(net::tcp::endpoint(ep.address(), ep.port()));
}

}  // namespace

FlowKey flow_key_of(const udp::endpoint& ep) {
  FlowKey k;
  auto a = ep.address();
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    k.bytes[10] = 0xff;
    k.bytes[11] = 0xff;
    std::memcpy(k.bytes.data() + 12, b.data(), 4);
  } else {
    const auto b = a.to_v6().to_bytes();
    std::memcpy(k.bytes.data(), b.data(), 16);
  }
  k.bytes[16] = static_cast<std::uint8_t>(ep.port() >> 8);
  k.bytes[17] = static_cast<std::uint8_t>(ep.port());
  return k;
}

UdpEndpoint::UdpEndpoint(udp::socket socket, std::string token, std::string public_url, UdpFlowLimits limits)
    : Endpoint("udp", std::to_string(port_of(socket)), std::move(token), std::move(public_url)),
      socket_(std::move(socket)),
      port_(port_of(socket_)),
      limits_(limits),
      flows_(limits.max_flows),
      expiry_timer_(socket_.get_executor()) {
  net::error_code ec;
  const auto local = socket_.local_endpoint(ec);
  if (!ec) dest_ = format_udp(local);
}

UdpEndpoint::~UdpEndpoint() { stop(); }

void UdpEndpoint::start() {
  auto self = std::static_pointer_cast<UdpEndpoint>(shared_from_this());
  asio::co_spawn(socket_.get_executor(), [self] { return self->recv_loop(); }, asio::detached);
  asio::co_spawn(socket_.get_executor(), [self] { return self->expiry_loop(); }, asio::detached);
}

void UdpEndpoint::stop() {
  if (stopped_) return;
  stopped_ = true;
  net::error_code ec;
  socket_.close(ec);
  expiry_timer_.cancel();
  flows_.for_each([this](FlowPtr& f) { end_flow(*f, "endpoint closed"); });
  stats().open.add(-static_cast<std::int64_t>(flows_.size()));
  flows_.clear();
}

void UdpEndpoint::end_flow(Flow& f, std::string_view why) {
  if (f.dead) return;
  f.dead = true;
  if (f.stream) f.stream->abort(why);  // RESET: the agent closes its socket for the flow
}

net::Task<void> UdpEndpoint::expiry_loop() {
  auto self = shared_from_this();
  const auto tick = std::clamp<std::chrono::milliseconds>(limits_.idle / 2, std::chrono::milliseconds(10),
                                                          std::chrono::milliseconds(1000));
  while (!stopped_) {
    expiry_timer_.expires_after(tick);
    co_await expiry_timer_.async_wait(net::use_nothrow);
    if (stopped_) co_return;
    const auto n = flows_.expire(std::chrono::steady_clock::now(), limits_.idle, [this](FlowPtr& f) { end_flow(*f, "idle"); });
    if (n > 0) {
      stats().expired.inc(n);
      stats().open.add(-static_cast<std::int64_t>(n));
    }
  }
}

net::Task<void> UdpEndpoint::recv_loop() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> buf(65536);  // one datagram at a time, whole
  while (!stopped_) {
    auto [ec] = co_await socket_.async_wait(udp::socket::wait_read, net::use_nothrow);
    if (ec || stopped_) co_return;
    for (int i = 0; i < 64 && !stopped_; ++i) {  // drain a batch, then let others run
      udp::endpoint from;
      net::error_code rec;
      const auto n = socket_.receive_from(asio::buffer(buf), from, 0, rec);
      if (rec) break;  // would_block (or an ICMP error report): wait again
      on_datagram(from, std::span(buf.data(), n));
    }
  }
}

void UdpEndpoint::on_datagram(const udp::endpoint& from, std::span<const std::uint8_t> data) {
  stats().in.inc();
  const auto key = flow_key_of(from);
  Flow* f = nullptr;
  if (auto* p = flows_.find(key, std::chrono::steady_clock::now())) f = p->get();
  if (f == nullptr) f = open_flow(from, key);
  if (f == nullptr) return;
  if (!f->stream->send_datagram(data)) stats().session_full.inc();
}

UdpEndpoint::Flow* UdpEndpoint::open_flow(const udp::endpoint& from, const FlowKey& key) {
  auto pick = this->pick();
  if (!pick) {
    stats().no_agent.inc();
    return nullptr;
  }
  auto stream = pick->session().open_stream(proto::encode(proto::OpenMeta{pick->tunnel(), format_udp(from), "udp", dest_}));
  if (!stream) {
    stats().no_agent.inc();
    return nullptr;
  }
  auto flow = std::make_shared<Flow>();
  flow->stream = std::move(*stream);
  flow->visitor = from;
  flow->key = key;
  auto& slot = flows_.insert(key, flow, std::chrono::steady_clock::now(), [this](FlowPtr& old) {
    end_flow(*old, "evicted at the flow limit");
    stats().evicted.inc();
    stats().open.add(-1);
  });
  stats().flows.inc();
  stats().open.add(1);
  count_visitor();
  auto self = std::static_pointer_cast<UdpEndpoint>(shared_from_this());
  asio::co_spawn(socket_.get_executor(), flow_loop(self, flow), asio::detached);
  return slot.get();
}

net::Task<void> UdpEndpoint::flow_loop(std::shared_ptr<UdpEndpoint> self, FlowPtr flow) {
  auto stream = flow->stream;  // the flow may be evicted while we wait
  for (;;) {
    auto d = co_await stream->read_datagram();
    if (!d || !*d || flow->dead || self->stopped_) break;
    (void)self->flows_.find(flow->key, std::chrono::steady_clock::now());  // a reply keeps the flow alive
    net::error_code ec;
    self->socket_.send_to(asio::buffer(**d), flow->visitor, 0, ec);
    if (ec) {
      stats().visitor_busy.inc();  // the socket's buffer is full: drop, never queue
    } else {
      stats().out.inc();
    }
  }
  if (!flow->dead) {  // the agent ended the flow (or its session went): forget it
    flow->dead = true;
    if (auto* cur = self->flows_.peek(flow->key); cur && *cur == flow) {
      self->flows_.erase(flow->key);
      stats().open.add(-1);
    }
    stream->abort("flow ended");
  }
}

Result<Bound> bind_udp(BindContext& ctx, const BindRequest& req) {
  const auto& token = req.token.name;
  const auto& tunnel = req.bind.tunnel;
  const auto reserved = ctx.store.reserved_udp_port(token, tunnel);
  if (const auto existing = req.bind.remote_port ? req.bind.remote_port : reserved) {
    if (auto ep = ctx.registry.find("udp", std::to_string(*existing))) {
      if (ep->token() != token) return make_error(Errc::conflict, "udp port {} is held by another token", *existing);
      return Bound{ep, attach_member(*ep, req)};
    }
  }
  const auto allowed = allowed_port_range(req.token.scopes, ctx.cfg.udp_ports);
  if (!allowed) {
    return make_error(Errc::forbidden, "the token's allowed ports ({}) do not overlap the relay's --udp-ports {}-{}",
                      format_port_scope(req.token.scopes.allow_port), ctx.cfg.udp_ports.lo, ctx.cfg.udp_ports.hi);
  }
  PortRequest pr;
  pr.asked = req.bind.remote_port;
  pr.reserved = reserved;
  pr.allowed = *allowed;
  std::optional<udp::socket> sock;
  std::string last_error;
  auto usable = [&](std::uint16_t p) {
    if (ctx.store.udp_port_reserved_by_other(p, token, tunnel) || ctx.registry.find("udp", std::to_string(p))) {
      return false;
    }
    net::error_code ec;
    auto addr = asio::ip::make_address(ctx.listen_host, ec);
    const bool wildcard = ec || addr.is_unspecified();
    if (wildcard) addr = asio::ip::address_v6::any();
    udp::socket s(ctx.io);
    s.open(addr.is_v6() ? udp::v6() : udp::v4(), ec);
    if (!ec && addr.is_v6()) s.set_option(asio::ip::v6_only(!wildcard), ec);
    if (!ec) s.bind(udp::endpoint(addr, p), ec);
    if (ec) {
      last_error = fmt::format("cannot listen on udp {}: {}", format_host_port(ctx.listen_host, p), ec.message());
      return false;
    }
    s.non_blocking(true, ec);
    // Room for bursts of many visitors (the kernel's memory, capped by net.core.rmem_max).
    s.set_option(asio::socket_base::receive_buffer_size(1 << 20), ec);
    s.set_option(asio::socket_base::send_buffer_size(1 << 20), ec);
    sock.emplace(std::move(s));
    return true;
  };
  auto port = choose_port(pr, usable);
  if (!port) return make_error("{}{}{}", port.error().message, last_error.empty() ? "" : ": ", last_error);
  if (auto r = ctx.store.reserve_udp_port(token, tunnel, *port); !r) {
    spdlog::warn("could not record the reservation of udp port {}: {}", *port, r.error().message);
  }
  auto ep = std::make_shared<UdpEndpoint>(std::move(*sock), token,
                                          fmt::format("udp://{}", format_host_port(ctx.public_host, *port)),
                                          UdpFlowLimits{ctx.cfg.udp_flow_timeout, ctx.cfg.udp_max_flows});
  auto displaced = attach_member(*ep, req);
  ep->start();
  ctx.registry.add(ep, false);
  return Bound{ep, std::move(displaced)};
}

}  // namespace porthole::relay
