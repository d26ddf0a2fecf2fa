// See exit_udp.hpp. The exit's own addresses, --hosts-file and the refusal counters are the TCP
// exit's (egress/exit_dial.hpp); names are resolved here with a short cache (a UDP association
// sends many datagrams to few names).
#include "egress/exit_udp.hpp"

#include <net/if.h>

#include <cstring>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "core/flow_table.hpp"
#include "egress/exit_dial.hpp"
#include "core/hostname.hpp"
#include "core/metrics.hpp"
#include "policy/dest_check.hpp"
#include "proto/socks5_udp.hpp"

namespace porthole::egress {

namespace asio = net::asio;
using namespace asio::experimental::awaitable_operators;
using net::udp;

namespace {

constexpr std::chrono::seconds kResolveTimeout{5};
constexpr std::chrono::seconds kNameTtl{30};       // a name's addresses are used this long
constexpr std::chrono::seconds kFailedNameTtl{5};  // a name that did not resolve is not asked again sooner

struct ExitUdpStats {
  metrics::Counter& out = metrics::counter("porthole_exit_udp_datagrams_total{dir=\"out\"}",
                                           "Datagrams of UDP associations through the exit");
  metrics::Counter& back = metrics::counter("porthole_exit_udp_datagrams_total{dir=\"back\"}",
                                            "Datagrams of UDP associations through the exit");
  metrics::Counter& forbidden = metrics::counter("porthole_exit_udp_dropped_total{reason=\"forbidden\"}",
                                                 "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& malformed = metrics::counter("porthole_exit_udp_dropped_total{reason=\"malformed\"}",
                                                 "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& fragment = metrics::counter("porthole_exit_udp_dropped_total{reason=\"fragment\"}",
                                                "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& unresolved = metrics::counter("porthole_exit_udp_dropped_total{reason=\"unresolved\"}",
                                                  "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& send_failed = metrics::counter("porthole_exit_udp_dropped_total{reason=\"send_failed\"}",
                                                   "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& unsolicited = metrics::counter("porthole_exit_udp_dropped_total{reason=\"unsolicited\"}",
                                                   "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& session = metrics::counter("porthole_exit_udp_dropped_total{reason=\"session\"}",
                                               "Datagrams of UDP associations dropped at the exit, by reason");
  metrics::Counter& assoc = metrics::counter("porthole_exit_udp_associations_total", "UDP associations served");
  metrics::Counter& assoc_limit = metrics::counter("porthole_exit_udp_associations_refused_total",
                                                   "UDP associations refused at the limit");
  metrics::Gauge& open = metrics::gauge("porthole_exit_udp_associations", "UDP associations open now");
};
ExitUdpStats& stats() {
  static ExitUdpStats s;
  return s;
}

std::size_t open_associations = 0;

// Refusal log lines: at most one a second for all associations, with the count left out.
void log_refusal(const std::string& exit, const std::string& visitor, const std::string& dest, const std::string& why) {
  static std::chrono::steady_clock::time_point last{};
  static std::uint64_t suppressed = 0;
  const auto now = std::chrono::steady_clock::now();
  if (last != std::chrono::steady_clock::time_point{} && now - last < std::chrono::seconds(1)) {
    ++suppressed;
    return;
  }
  last = now;
  spdlog::warn("exit {}: refused udp {} for {}: {}{}", exit, dest, visitor.empty() ? "?" : visitor, why,
               suppressed == 0 ? std::string() : fmt::format(" ({} more udp refusals not logged)", suppressed));
  suppressed = 0;
}

udp::endpoint to_endpoint(const policy::DestAddr& a, std::uint16_t port) {
  if (a.v4()) {
    asio::ip::address_v4::bytes_type b{a.ip.bytes[12], a.ip.bytes[13], a.ip.bytes[14], a.ip.bytes[15]};
    return {asio::ip::address_v4(b), port};
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(a.ip.bytes.begin(), a.ip.bytes.end(), b.begin());
  unsigned long scope = 0;
  if (!a.zone.empty()) {
    scope = if_nametoindex(a.zone.c_str());
    if (scope == 0) scope = std::strtoul(a.zone.c_str(), nullptr, 10);
  }
  return {asio::ip::address_v6(b, static_cast<asio::ip::scope_id_type>(scope)), port};
}

FlowKey key_of(const udp::endpoint& ep) {
  FlowKey k;
  const auto a = ep.address();
  if (a.is_v4() || a.to_v6().is_v4_mapped()) {
    const auto b = a.is_v4() ? a.to_v4().to_bytes() : asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_bytes();
    k.bytes[10] = k.bytes[11] = 0xff;
    std::memcpy(k.bytes.data() + 12, b.data(), 4);
  } else {
    const auto b = a.to_v6().to_bytes();
    std::memcpy(k.bytes.data(), b.data(), 16);
  }
  k.bytes[16] = static_cast<std::uint8_t>(ep.port() >> 8);
  k.bytes[17] = static_cast<std::uint8_t>(ep.port());
  return k;
}

struct Name {
  std::vector<policy::DestAddr> addrs;
  std::string error;  // did not resolve
  std::chrono::steady_clock::time_point expires;
};

class ExitUdp : public std::enable_shared_from_this<ExitUdp> {
 public:
  ExitUdp(const net::Executor& ex, std::shared_ptr<session::MuxStream> stream, std::string exit, std::string visitor,
          policy::DestPolicy pol, std::string hosts_file)
      : ex_(ex),
        stream_(std::move(stream)),
        exit_(std::move(exit)),
        visitor_(std::move(visitor)),
        pol_(std::move(pol)),
        hosts_file_(std::move(hosts_file)),
        v4_(ex),
        v6_(ex),
        flows_(kExitUdpMaxFlows),
        idle_(ex),
        last_(std::chrono::steady_clock::now()) {
    ++open_associations;
    stats().open.add(1);
  }
  ~ExitUdp() {
    --open_associations;
    stats().open.add(-1);
  }

  net::Task<void> run() {
    auto self = shared_from_this();
    arm_idle();
    for (;;) {
      auto d = co_await stream_->read_datagram();
      if (!d || !*d) break;  // the socks side ended it (RESET), idle, or the session ended
      last_ = std::chrono::steady_clock::now();
      co_await forward(**d);
    }
    stopped_ = true;
    idle_.cancel();
    net::error_code ec;
    v4_.close(ec);  // ends the reply loops
    v6_.close(ec);
    stream_->abort("the association ended");
  }

 private:
  net::Task<void> forward(const std::vector<std::uint8_t>& d) {
    auto h = proto::socks5::parse_udp(d);
    if (h.status == proto::socks5::UdpStatus::fragment) {
      stats().fragment.inc();
      co_return;
    }
    if (h.status != proto::socks5::UdpStatus::ok) {
      stats().malformed.inc();
      spdlog::debug("exit {}: udp datagram from {} dropped: {}", exit_, visitor_, h.error);
      co_return;
    }
    const auto dest = policy::join_dest(h.header.host, h.header.port);
    std::vector<policy::DestAddr> addrs;
    std::string host;  // "" when the client gave an address
    if (auto ip = policy::parse_dest_ip(h.header.host)) {
      addrs.push_back(*ip);
    } else {
      auto norm = normalize_hostname(h.header.host, false);
      if (!norm) {
        refuse(dest, "bad_name", fmt::format("'{}' is not a host name: {}", h.header.host, norm.error().message));
        co_return;
      }
      host = *norm;
      const Name* n = co_await lookup(host);
      if (n == nullptr || stopped_) co_return;
      if (!n->error.empty()) {
        stats().unresolved.inc();
        spdlog::debug("exit {}: udp {} for {}: {}", exit_, dest, visitor_, n->error);
        co_return;
      }
      addrs = n->addrs;
    }
    refresh_own();
    const auto verdict = pol_.check(host, addrs, h.header.port);
    if (!verdict.allowed) {
      refuse(dest, verdict.code, verdict.reason);
      co_return;
    }
    // Exactly a checked address: the first (UDP has no connection attempt to fall back on).
    const auto to = to_endpoint(addrs.front(), h.header.port);
    auto* sock = socket_for(to.address().is_v4());
    if (sock == nullptr) {
      stats().send_failed.inc();
      co_return;
    }
    const auto key = key_of(to);
    if (flows_.find(key, std::chrono::steady_clock::now()) == nullptr) {
      flows_.insert(key, true, std::chrono::steady_clock::now(), {});  // at the bound the oldest goes
    }
    const std::span<const std::uint8_t> payload(d.data() + h.header_size, d.size() - h.header_size);
    net::error_code ec;
    sock->send_to(asio::buffer(payload.data(), payload.size()), to, 0, ec);
    if (ec) {
      stats().send_failed.inc();
    } else {
      stats().out.inc();
    }
  }

  void refuse(const std::string& dest, const std::string& code, const std::string& why) {
    count_exit_refused(code);
    stats().forbidden.inc();
    log_refusal(exit_, visitor_, dest, why);
  }

  void refresh_own() {
    const auto now = std::chrono::steady_clock::now();
    if (own_at_ != std::chrono::steady_clock::time_point{} && now - own_at_ < std::chrono::seconds(1)) return;
    own_at_ = now;
    pol_.set_own_addresses(own_addresses());
  }

  // The addresses of `name` (cached a while; bounded), resolved here: --hosts-file first.
  net::Task<const Name*> lookup(const std::string& name) {
    auto self = shared_from_this();
    const auto now = std::chrono::steady_clock::now();
    if (auto it = names_.find(name); it != names_.end() && it->second.expires > now) co_return &it->second;
    Name n;
    n.addrs = hosts_lookup(hosts_file_, name);
    if (n.addrs.empty()) {
      asio::steady_timer deadline(ex_, kResolveTimeout);
      udp::resolver resolver(ex_);
      auto r = co_await (resolver.async_resolve(name, "0", net::use_nothrow) || deadline.async_wait(net::use_nothrow));
      if (r.index() == 1) {
        n.error = fmt::format("resolving {} timed out", name);
      } else {
        auto [ec, results] = std::get<0>(r);
        if (ec) n.error = fmt::format("cannot resolve {}: {}", name, ec.message());
        for (const auto& e : results) {
          auto a = policy::parse_dest_ip(e.endpoint().address().to_string());
          if (!a) continue;
          const bool dup = std::any_of(n.addrs.begin(), n.addrs.end(), [&](const policy::DestAddr& b) {
            return b.ip.bytes == a->ip.bytes && b.zone == a->zone;
          });
          if (!dup) n.addrs.push_back(*a);
        }
        if (n.error.empty() && n.addrs.empty()) n.error = fmt::format("{} has no address", name);
      }
    }
    n.expires = std::chrono::steady_clock::now() + (n.error.empty() ? kNameTtl : kFailedNameTtl);
    if (names_.size() >= kExitUdpMaxNames) names_.clear();  // bounded: start over
    auto& slot = names_[name];
    slot = std::move(n);
    co_return &slot;
  }

  udp::socket* socket_for(bool v4) {
    auto& s = v4 ? v4_ : v6_;
    if (s.is_open()) return &s;
    if (stopped_) return nullptr;
    net::error_code ec;
    s.open(v4 ? udp::v4() : udp::v6(), ec);
    if (!ec) s.non_blocking(true, ec);
    if (ec) {
      spdlog::warn("exit {}: cannot open a UDP socket: {}", exit_, ec.message());
      net::error_code ignored;
      s.close(ignored);
      return nullptr;
    }
    net::error_code bec;
    s.set_option(asio::socket_base::receive_buffer_size(512 * 1024), bec);
    asio::co_spawn(ex_, [self = shared_from_this(), &s] { return self->replies(s); }, asio::detached);
    return &s;
  }

  // Answers: only from an address this association sent to; wrapped with their source.
  net::Task<void> replies(udp::socket& s) {
    auto self = shared_from_this();
    std::vector<std::uint8_t> buf(65536);
    std::vector<std::uint8_t> out;
    while (!stopped_) {
      auto [ec] = co_await s.async_wait(udp::socket::wait_read, net::use_nothrow);
      if (ec || stopped_ || !s.is_open()) break;
      for (int i = 0; i < 64 && !stopped_; ++i) {
        udp::endpoint from;
        net::error_code rec;
        const auto n = s.receive_from(asio::buffer(buf), from, 0, rec);
        if (rec == asio::error::connection_refused) continue;  // an ICMP error for an earlier datagram
        if (rec) break;
        if (flows_.find(key_of(from), std::chrono::steady_clock::now()) == nullptr) {
          stats().unsolicited.inc();
          continue;
        }
        last_ = std::chrono::steady_clock::now();
        out.clear();
        const auto a = from.address();
        if (a.is_v4()) {
          const auto b = a.to_v4().to_bytes();
          proto::socks5::append_udp_header(out, b, from.port());
        } else {
          const auto b = a.to_v6().to_bytes();
          proto::socks5::append_udp_header(out, b, from.port());
        }
        out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        if (stream_->send_datagram(out)) {
          stats().back.inc();
        } else {
          stats().session.inc();
        }
      }
    }
  }

  void arm_idle() {
    idle_.expires_at(last_ + kExitUdpIdle);
    std::weak_ptr<ExitUdp> weak = weak_from_this();
    idle_.async_wait([weak](const net::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->stopped_) return;
      if (std::chrono::steady_clock::now() - self->last_ >= kExitUdpIdle) {
        self->stream_->reset(make_error(Errc::timed_out, "the UDP association was idle for {} s", kExitUdpIdle.count()));
      } else {
        self->arm_idle();
      }
    });
  }

  net::Executor ex_;
  std::shared_ptr<session::MuxStream> stream_;
  std::string exit_, visitor_;
  policy::DestPolicy pol_;
  std::string hosts_file_;
  udp::socket v4_, v6_;
  FlowTable<bool> flows_;
  std::unordered_map<std::string, Name> names_;
  asio::steady_timer idle_;
  std::chrono::steady_clock::time_point last_, own_at_{};
  bool stopped_ = false;
};

}  // namespace

net::Task<bool> serve_udp_exit(std::shared_ptr<session::MuxStream> stream, const ExitRules& rules, std::string visitor) {
  const auto& name = rules.exit_name;
  if (open_associations >= kExitUdpMaxAssociations) {
    stats().assoc_limit.inc();
    spdlog::warn("exit {}: UDP association for {} refused: {} are open (the limit)", name, visitor,
                 kExitUdpMaxAssociations);
    stream->reset(make_error(Errc::refused, "the exit serves {} UDP associations already", kExitUdpMaxAssociations));
    co_return false;
  }
  auto pol = policy::DestPolicy::parse(rules.allow_dest);
  if (!pol) {  // checked when the exit started; kept as a refusal, never an open door
    count_exit_refused("bad_config");
    stream->reset(make_error(Errc::forbidden, "the exit refused the UDP association: {}", pol.error().message));
    co_return false;
  }
  auto ex = co_await asio::this_coro::executor;
  auto assoc = std::make_shared<ExitUdp>(ex, stream, name, visitor, std::move(*pol), rules.hosts_file);
  static constexpr std::uint8_t kReady[1] = {0x00};
  auto w = co_await stream->write(kReady);
  if (!w) co_return true;
  stats().assoc.inc();
  spdlog::debug("exit {}: UDP association for {}", name, visitor);
  co_await assoc->run();
  spdlog::debug("exit {}: UDP association for {} done", name, visitor);
  co_return true;
}

}  // namespace porthole::egress
