#include "forward/udp_forward.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

#include "core/metrics.hpp"

namespace porthole::forward {

namespace {

using net::udp;

constexpr int kBatch = 32;
constexpr std::size_t kSlot = 65536;  // a whole datagram (65,507 bytes of IPv4 payload at most)
constexpr std::size_t kMaxPendingPerFlow = 8;
constexpr std::size_t kMaxPendingBytes = 1 << 20;  // per listener, while names resolve

struct UdpStats {
  metrics::Counter& up = metrics::counter("porthole_forward_udp_datagrams_total{direction=\"to_target\"}",
                                          "Datagrams forwarded by UDP rules");
  metrics::Counter& down = metrics::counter("porthole_forward_udp_datagrams_total{direction=\"to_visitor\"}",
                                            "Datagrams forwarded by UDP rules");
  metrics::Counter& denied = metrics::counter("porthole_forward_denied_total{proto=\"udp\"}",
                                              "Peers refused by a rule's allow list (TCP: reset; UDP: datagram dropped)");
  metrics::Counter& created = metrics::counter("porthole_forward_udp_flows_total", "UDP flows created");
  metrics::Counter& evicted = metrics::counter("porthole_forward_udp_flows_evicted_total",
                                               "UDP flows evicted at the flow limit (the least recently used)");
  metrics::Counter& expired = metrics::counter("porthole_forward_udp_flows_expired_total", "UDP flows ended by the idle timeout");
  metrics::Counter& drop_trunc = metrics::counter("porthole_forward_udp_dropped_total{reason=\"truncated\"}",
                                                  "UDP datagrams dropped, by reason");
  metrics::Counter& drop_target = metrics::counter("porthole_forward_udp_dropped_total{reason=\"target_busy\"}",
                                                   "UDP datagrams dropped, by reason");
  metrics::Counter& drop_visitor = metrics::counter("porthole_forward_udp_dropped_total{reason=\"visitor_busy\"}",
                                                    "UDP datagrams dropped, by reason");
  metrics::Counter& drop_pending = metrics::counter("porthole_forward_udp_dropped_total{reason=\"resolving\"}",
                                                    "UDP datagrams dropped, by reason");
  metrics::Counter& drop_socket = metrics::counter("porthole_forward_udp_dropped_total{reason=\"no_socket\"}",
                                                   "UDP datagrams dropped, by reason");
  metrics::Counter& target_errors = metrics::counter("porthole_forward_udp_target_errors_total",
                                                     "ICMP errors from UDP targets (port unreachable...)");
  metrics::Gauge& open = metrics::gauge("porthole_forward_udp_flows", "UDP flows open now");
};

UdpStats& stats() {
  static UdpStats s;
  return s;
}

// One thread's batch of datagram slots, shared by every UDP socket of the thread: a batch is
// read and written with no wait in between, so one set suffices. Pages are touched only as
// datagrams fill them.
struct Batch {
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  sockaddr_storage names[kBatch];
  mmsghdr out[kBatch];
  iovec out_iov[kBatch];
  std::unique_ptr<std::uint8_t[]> data = std::make_unique<std::uint8_t[]>(kSlot * kBatch);

  void prepare_recv(bool with_names) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {data.get() + kSlot * static_cast<std::size_t>(i), kSlot};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      if (with_names) {
        msgs[i].msg_hdr.msg_name = &names[i];
        msgs[i].msg_hdr.msg_namelen = sizeof names[i];
      }
    }
  }
};

Batch& batch() {
  thread_local Batch b;
  return b;
}

FlowKey key_of(const sockaddr_storage& sa) {
  FlowKey k;
  if (sa.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
    k.bytes[10] = 0xff;
    k.bytes[11] = 0xff;
    std::memcpy(k.bytes.data() + 12, &in.sin_addr, 4);
    std::memcpy(k.bytes.data() + 16, &in.sin_port, 2);
  } else {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
    std::memcpy(k.bytes.data(), &in6.sin6_addr, 16);
    std::memcpy(k.bytes.data() + 16, &in6.sin6_port, 2);
  }
  return k;
}

policy::Ip ip_of(const FlowKey& k) {
  policy::Ip ip;
  std::memcpy(ip.bytes.data(), k.bytes.data(), 16);
  return ip;
}

}  // namespace

UdpListener::UdpListener(const net::Executor& ex, Fd fd, Listener rule, UdpOptions opts)
    : sock_(ex), rule_(std::move(rule)), opts_(opts), flows_(opts.max_flows), expiry_timer_(ex) {
  auto addr = bind_address(rule_.bind_host);
  net::error_code ec;
  sock_.assign(addr && addr->is_v6() ? udp::v6() : udp::v4(), fd.release(), ec);
  for (const auto& c : rule_.allow) (void)allow_.add(c);
  const auto target = net::asio::ip::make_address(rule_.target_host, ec);
  if (!ec) {
    target_is_address_ = true;
    target_ = udp::endpoint(target, rule_.target_port);
  }
}

void UdpListener::start() {
  auto self = shared_from_this();
  net::asio::co_spawn(sock_.get_executor(), [self] { return self->recv_loop(); }, net::asio::detached);
  net::asio::co_spawn(sock_.get_executor(), [self] { return self->expiry_loop(); }, net::asio::detached);
}

void UdpListener::close() {
  if (closed_) return;
  closed_ = true;
  net::error_code ec;
  sock_.close(ec);
  expiry_timer_.cancel();
  flows_.for_each([this](FlowPtr& f) { kill_flow(*f); });
  stats().open.add(-static_cast<std::int64_t>(flows_.size()));
  flows_.clear();
}

void UdpListener::kill_flow(Flow& f) {
  if (f.dead) return;
  f.dead = true;
  for (const auto& p : f.pending) pending_bytes_ -= p.size();
  f.pending.clear();
  if (f.up) {
    net::error_code ec;
    f.up->close(ec);
  }
}

net::Task<void> UdpListener::expiry_loop() {
  auto self = shared_from_this();
  const auto tick = std::min<std::chrono::milliseconds>(opts_.idle_timeout / 2, std::chrono::milliseconds(1000));
  while (!closed_) {
    expiry_timer_.expires_after(std::max(tick, std::chrono::milliseconds(10)));
    co_await expiry_timer_.async_wait(net::use_nothrow);
    if (closed_) co_return;
    const auto n = flows_.expire(std::chrono::steady_clock::now(), opts_.idle_timeout, [this](FlowPtr& f) { kill_flow(*f); });
    if (n > 0) {
      stats().expired.inc(n);
      stats().open.add(-static_cast<std::int64_t>(n));
    }
  }
}

net::Task<void> UdpListener::recv_loop() {
  auto self = shared_from_this();
  for (;;) {
    auto [ec] = co_await sock_.async_wait(udp::socket::wait_read, net::use_nothrow);
    if (ec || closed_) co_return;
    // Drain what is there, a batch at a time (bounded per wake-up so other sockets get a turn).
    for (int round = 0; round < 8 && !closed_; ++round) {
      auto& b = batch();
      b.prepare_recv(true);
      const int n = ::recvmmsg(sock_.native_handle(), b.msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      handle_batch(n);
      if (n < kBatch) break;
    }
  }
}

UdpListener::Flow* UdpListener::flow_for(const sockaddr_storage& from, socklen_t len) {
  const auto key = key_of(from);
  const auto now = std::chrono::steady_clock::now();
  if (auto* f = flows_.find(key, now)) return f->get();
  if (!allow_.empty() && !allow_.contains(ip_of(key))) {
    stats().denied.inc();
    return nullptr;
  }
  auto flow = std::make_shared<Flow>();
  flow->key = key;
  flow->visitor = from;
  flow->visitor_len = len;
  if (target_is_address_ && !connect_flow(*flow, target_)) {
    stats().drop_socket.inc();
    return nullptr;
  }
  auto& slot = flows_.insert(key, flow, now, [this](FlowPtr& f) {
    kill_flow(*f);
    stats().evicted.inc();
    stats().open.add(-1);
  });
  stats().created.inc();
  stats().open.add(1);
  auto self = shared_from_this();
  if (flow->ready) {
    net::asio::co_spawn(sock_.get_executor(), flow_loop(self, flow), net::asio::detached);
  } else {
    net::asio::co_spawn(sock_.get_executor(), resolve_flow(self, flow), net::asio::detached);
  }
  return slot.get();
}

bool UdpListener::connect_flow(Flow& f, const udp::endpoint& target) {
  auto s = std::make_shared<udp::socket>(sock_.get_executor());
  net::error_code ec;
  s->open(target.protocol(), ec);
  if (ec) return false;
  s->non_blocking(true, ec);
  s->connect(target, ec);  // the kernel picks the source port, one per visitor, stable for the flow
  if (ec) return false;
  f.up = std::move(s);
  f.ready = true;
  return true;
}

void UdpListener::send_up(Flow& f, int first, int count) {
  auto& b = batch();
  for (int i = 0; i < count; ++i) {
    std::memset(&b.out[i], 0, sizeof b.out[i]);
    b.out_iov[i] = {b.iov[first + i].iov_base, b.msgs[first + i].msg_len};
    b.out[i].msg_hdr.msg_iov = &b.out_iov[i];
    b.out[i].msg_hdr.msg_iovlen = 1;
  }
  int sent = 0;
  int refused = 0;
  while (sent < count) {
    const int r = ::sendmmsg(f.up->native_handle(), b.out + sent, static_cast<unsigned>(count - sent), MSG_DONTWAIT);
    if (r > 0) {
      sent += r;
      continue;
    }
    // An earlier datagram got "port unreachable": the error is reported once, then cleared.
    if (r < 0 && errno == ECONNREFUSED && refused++ == 0) {
      stats().target_errors.inc();
      continue;
    }
    break;
  }
  stats().up.inc(static_cast<std::uint64_t>(sent));
  if (sent < count) stats().drop_target.inc(static_cast<std::uint64_t>(count - sent));
}

void UdpListener::handle_batch(int n) {
  auto& b = batch();
  int i = 0;
  while (i < n) {
    if (b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
      stats().drop_trunc.inc();
      ++i;
      continue;
    }
    const auto& from = b.names[i];
    const socklen_t len = b.msgs[i].msg_hdr.msg_namelen;
    // A run of datagrams from the same visitor goes up in one sendmmsg.
    int j = i + 1;
    const auto key = key_of(from);
    while (j < n && !(b.msgs[j].msg_hdr.msg_flags & MSG_TRUNC) && key_of(b.names[j]) == key) ++j;
    Flow* f = flow_for(from, len);
    if (f == nullptr) {
      i = j;
      continue;
    }
    if (f->ready) {
      send_up(*f, i, j - i);
    } else {
      for (int k = i; k < j; ++k) {
        const auto size = b.msgs[k].msg_len;
        if (f->pending.size() >= kMaxPendingPerFlow || pending_bytes_ + size > kMaxPendingBytes) {
          stats().drop_pending.inc();
          continue;
        }
        const auto* p = static_cast<const std::uint8_t*>(b.iov[k].iov_base);
        f->pending.emplace_back(p, p + size);
        pending_bytes_ += size;
      }
    }
    i = j;
  }
}

net::Task<void> UdpListener::resolve_flow(std::shared_ptr<UdpListener> self, FlowPtr flow) {
  udp::resolver resolver(self->sock_.get_executor());
  auto [ec, results] = co_await resolver.async_resolve(self->rule_.target_host, std::to_string(self->rule_.target_port),
                                                       net::use_nothrow);
  if (flow->dead || self->closed_) co_return;
  if (ec || results.empty() || !self->connect_flow(*flow, results.begin()->endpoint())) {
    spdlog::info("forward {}: cannot resolve {}: {}", self->rule_.key(), self->rule_.target_host,
                 ec ? ec.message() : "no address");
    stats().drop_pending.inc(flow->pending.size());
    self->flows_.erase(flow->key);
    self->kill_flow(*flow);
    stats().open.add(-1);
    co_return;
  }
  for (auto& p : flow->pending) {
    net::error_code sec;
    flow->up->send(net::asio::buffer(p), 0, sec);
    if (sec) {
      stats().drop_target.inc();
    } else {
      stats().up.inc();
    }
    self->pending_bytes_ -= p.size();
  }
  flow->pending.clear();
  co_await flow_loop(self, flow);
}

net::Task<void> UdpListener::flow_loop(std::shared_ptr<UdpListener> self, FlowPtr flow) {
  for (;;) {
    auto [ec] = co_await flow->up->async_wait(udp::socket::wait_read, net::use_nothrow);
    if (ec || flow->dead || self->closed_) co_return;
    (void)self->flows_.find(flow->key, std::chrono::steady_clock::now());  // a reply keeps the flow alive
    for (int round = 0; round < 8; ++round) {
      auto& b = batch();
      b.prepare_recv(false);
      const int n = ::recvmmsg(flow->up->native_handle(), b.msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n < 0 && errno == ECONNREFUSED) {
        stats().target_errors.inc();
        continue;
      }
      if (n <= 0) break;
      int m = 0;
      for (int i = 0; i < n; ++i) {
        if (b.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          stats().drop_trunc.inc();
          continue;
        }
        std::memset(&b.out[m], 0, sizeof b.out[m]);
        b.out_iov[m] = {b.iov[i].iov_base, b.msgs[i].msg_len};
        b.out[m].msg_hdr.msg_iov = &b.out_iov[m];
        b.out[m].msg_hdr.msg_iovlen = 1;
        b.out[m].msg_hdr.msg_name = &flow->visitor;
        b.out[m].msg_hdr.msg_namelen = flow->visitor_len;
        ++m;
      }
      int sent = 0;
      while (sent < m) {
        const int r = ::sendmmsg(self->sock_.native_handle(), b.out + sent, static_cast<unsigned>(m - sent), MSG_DONTWAIT);
        if (r <= 0) break;
        sent += r;
      }
      stats().down.inc(static_cast<std::uint64_t>(sent));
      if (sent < m) stats().drop_visitor.inc(static_cast<std::uint64_t>(m - sent));
      if (n < kBatch) break;
    }
  }
}

}  // namespace porthole::forward
