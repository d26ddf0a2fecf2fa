#include "agent/socks_udp.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "proto/socks5_udp.hpp"

namespace porthole::agent {

namespace asio = net::asio;
using net::udp;

namespace {

struct SocksUdpStats {
  metrics::Counter& out = metrics::counter("porthole_socks_udp_datagrams_total{dir=\"to_exit\"}",
                                           "SOCKS5 UDP ASSOCIATE datagrams");
  metrics::Counter& in = metrics::counter("porthole_socks_udp_datagrams_total{dir=\"to_client\"}",
                                          "SOCKS5 UDP ASSOCIATE datagrams");
  metrics::Counter& foreign = metrics::counter("porthole_socks_udp_dropped_total{reason=\"foreign_source\"}",
                                               "SOCKS5 UDP datagrams dropped, by reason");
  metrics::Counter& fragment = metrics::counter("porthole_socks_udp_dropped_total{reason=\"fragment\"}",
                                                "SOCKS5 UDP datagrams dropped, by reason");
  metrics::Counter& malformed = metrics::counter("porthole_socks_udp_dropped_total{reason=\"malformed\"}",
                                                 "SOCKS5 UDP datagrams dropped, by reason");
  metrics::Counter& session = metrics::counter("porthole_socks_udp_dropped_total{reason=\"session\"}",
                                               "SOCKS5 UDP datagrams dropped, by reason");
  metrics::Counter& client_busy = metrics::counter("porthole_socks_udp_dropped_total{reason=\"client_busy\"}",
                                                   "SOCKS5 UDP datagrams dropped, by reason");
  metrics::Counter& limit = metrics::counter("porthole_socks_udp_associations_refused_total",
                                             "UDP ASSOCIATE requests refused (association limit, socket)");
  metrics::Gauge& open = metrics::gauge("porthole_socks_udp_associations", "SOCKS5 UDP associations open now");
};
SocksUdpStats& stats() {
  static SocksUdpStats s;
  return s;
}

std::size_t open_associations = 0;  // the process's (one event loop)

asio::ip::address unmapped(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
  return a;
}

std::string format_udp(const udp::endpoint& ep) { return net::format_endpoint(net::tcp::endpoint(ep.address(), ep.port())); }

}  // namespace

Result<std::shared_ptr<SocksUdpAssociation>> SocksUdpAssociation::create(const net::Executor& ex,
                                                                         const net::tcp::endpoint& control_local,
                                                                         const net::tcp::endpoint& control_peer,
                                                                         std::uint16_t client_port, std::string label) {
  if (open_associations >= kMaxUdpAssociations) {
    stats().limit.inc();
    return make_error("{} UDP associations are open already (the limit)", kMaxUdpAssociations);
  }
  const auto ip = unmapped(control_local.address());
  udp::socket sock(ex);
  net::error_code ec;
  sock.open(ip.is_v4() ? udp::v4() : udp::v6(), ec);
  if (!ec) sock.bind(udp::endpoint(ip, 0), ec);
  if (!ec) sock.non_blocking(true, ec);
  if (ec) {
    stats().limit.inc();
    return make_error("cannot bind a UDP socket on {}: {}", ip.to_string(), ec.message());
  }
  net::error_code bec;  // bursts of answers (best effort; net.core.rmem_max caps it)
  sock.set_option(asio::socket_base::receive_buffer_size(512 * 1024), bec);
  return std::make_shared<SocksUdpAssociation>(Private{}, ex, std::move(sock), unmapped(control_peer.address()),
                                               client_port, std::move(label));
}

SocksUdpAssociation::SocksUdpAssociation(Private, const net::Executor& ex, udp::socket sock, asio::ip::address client_ip,
                                         std::uint16_t client_port, std::string label)
    : sock_(std::move(sock)),
      client_ip_(client_ip),
      client_port_(client_port),
      label_(std::move(label)),
      idle_(ex),
      last_(std::chrono::steady_clock::now()),
      done_(ex) {
  net::error_code ec;
  bound_ = sock_.local_endpoint(ec);
  ++open_associations;
  stats().open.add(1);
}

SocksUdpAssociation::~SocksUdpAssociation() {
  --open_associations;
  stats().open.add(-1);
}

net::Task<void> SocksUdpAssociation::run(net::TcpStream& control, std::shared_ptr<session::MuxStream> stream) {
  auto self = shared_from_this();
  stream_ = std::move(stream);
  control_ = &control;
  spdlog::debug("socks {}: UDP association on {} for {}", label_, format_udp(bound_), client_ip_.to_string());
  auto ex = co_await asio::this_coro::executor;
  running_ = 2;
  asio::co_spawn(ex, [self] { return self->from_client(); }, asio::detached);
  asio::co_spawn(ex, [self] { return self->from_exit(); }, asio::detached);
  arm_idle();
  // RFC 1928: the association lasts as long as the TCP connection it was asked on. What the
  // client sends there meanwhile means nothing; it is read and dropped.
  for (;;) {
    auto c = co_await control.read();
    if (!c || c->empty()) break;
  }
  end("the control connection closed");
  while (running_ > 0) co_await done_.wait();  // the loops use `control` and this object
  control_ = nullptr;
}

void SocksUdpAssociation::end(std::string_view why) {
  if (ended_) return;
  ended_ = true;
  spdlog::debug("socks {}: UDP association on {} ends: {}", label_, format_udp(bound_), why);
  net::error_code ec;
  sock_.close(ec);  // ends from_client()
  idle_.cancel();
  if (stream_) stream_->abort(why);  // RESET: the exit closes its sockets; ends from_exit()
  if (control_) control_->abort(why);
}

void SocksUdpAssociation::arm_idle() {
  const auto due = last_ + kUdpIdle;
  idle_.expires_at(due);
  std::weak_ptr<SocksUdpAssociation> weak = weak_from_this();
  idle_.async_wait([weak](const net::error_code& ec) {
    auto self = weak.lock();
    if (ec || !self || self->ended_) return;
    if (std::chrono::steady_clock::now() - self->last_ >= kUdpIdle) {
      self->end("idle");
    } else {
      self->arm_idle();
    }
  });
}

net::Task<void> SocksUdpAssociation::from_client() {
  auto self = shared_from_this();
  std::vector<std::uint8_t> buf(65536);
  while (!ended_) {
    auto [ec] = co_await sock_.async_wait(udp::socket::wait_read, net::use_nothrow);
    if (ec || ended_) break;
    for (int i = 0; i < 64 && !ended_; ++i) {
      udp::endpoint from;
      net::error_code rec;
      const auto n = sock_.receive_from(asio::buffer(buf), from, 0, rec);
      if (rec) break;
      const bool same_ip = unmapped(from.address()) == client_ip_;
      if (!same_ip || (client_port_ != 0 && from.port() != client_port_)) {
        stats().foreign.inc();  // RFC 1928 section 7: only the client's datagrams
        continue;
      }
      if (client_port_ == 0) client_port_ = from.port();  // the first datagram names it
      const std::span<const std::uint8_t> d(buf.data(), n);
      auto h = proto::socks5::parse_udp(d);
      if (h.status == proto::socks5::UdpStatus::fragment) {
        stats().fragment.inc();  // no reassembly (RFC 1928 lets a server drop fragments)
        continue;
      }
      if (h.status != proto::socks5::UdpStatus::ok) {
        stats().malformed.inc();
        spdlog::debug("socks {}: UDP datagram dropped: {}", label_, h.error);
        continue;
      }
      touch();
      // The header travels on unchanged: the exit reads the destination from it.
      if (stream_->send_datagram(d)) {
        stats().out.inc();
      } else {
        stats().session.inc();
      }
    }
  }
  if (--running_ == 0) done_.notify();
}

net::Task<void> SocksUdpAssociation::from_exit() {
  auto self = shared_from_this();
  std::string why = "the exit ended the association";
  for (;;) {
    auto d = co_await stream_->read_datagram();
    if (!d) {
      why = fmt::format("the exit ended the association: {}", d.error().message);
      break;
    }
    if (!*d || ended_) break;
    if (client_port_ == 0) continue;  // nothing sent yet: nobody to answer
    touch();
    net::error_code ec;
    sock_.send_to(asio::buffer(**d), udp::endpoint(client_ip_, client_port_), 0, ec);
    if (ec) {
      stats().client_busy.inc();  // the socket's buffer is full: drop, never queue
    } else {
      stats().in.inc();
    }
  }
  end(why);
  if (--running_ == 0) done_.notify();
}

}  // namespace porthole::agent
