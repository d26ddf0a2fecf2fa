// The tunnel kind "exit" (`porthole exit NAME --allow-dest ...`): each stream's OPEN carries
// the destination (`target`, HOST:PORT). The exit resolves it here, checks every address with
// the allow-list (policy/dest_check.hpp), connects to exactly the addresses that passed (never
// resolving again: no DNS-rebinding way around the check), writes one byte 0x00 to say
// "connected" and pumps. A refusal resets the stream with `forbidden` and its reason, logs it
// and counts it, before any connection attempt (docs/socks.md).
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <spdlog/spdlog.h>

#include "agent/exit_udp.hpp"
#include "agent/tunnel.hpp"
#include "core/hostname.hpp"
#include "core/metrics.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "policy/dest_check.hpp"

namespace porthole::agent {

namespace asio = net::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::chrono::seconds kResolveTimeout{5};
constexpr std::chrono::seconds kConnectTimeout{10};

metrics::Counter& refused(const std::string& reason) {
  // One counter per reason code (a small fixed set: dest_check.hpp).
  static std::mutex mu;
  static std::map<std::string, metrics::Counter*> by_reason;
  std::lock_guard lock(mu);
  auto& c = by_reason[reason];
  if (c == nullptr) {
    c = &metrics::counter(fmt::format("porthole_exit_refused_total{{reason=\"{}\"}}", reason),
                          "exit streams refused before any connection attempt, by reason");
  }
  return *c;
}

metrics::Counter& connected_total() {
  static auto& c = metrics::counter("porthole_exit_connections_total", "exit streams connected to their destination");
  return c;
}

// The exit's own addresses and their broadcast addresses, read again at most every 10 s.
std::vector<policy::Ip> own_addresses() {
  static std::mutex mu;
  static std::vector<policy::Ip> cached;
  static std::chrono::steady_clock::time_point read_at{};
  std::lock_guard lock(mu);
  const auto now = std::chrono::steady_clock::now();
  if (read_at != std::chrono::steady_clock::time_point{} && now - read_at < std::chrono::seconds(10)) return cached;
  read_at = now;
  cached.clear();
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return cached;
  auto add = [](const sockaddr* sa) {
    if (sa == nullptr) return;
    policy::Ip ip;
    if (sa->sa_family == AF_INET) {
      ip.bytes[10] = ip.bytes[11] = 0xff;
      std::memcpy(ip.bytes.data() + 12, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
      std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    } else {
      return;
    }
    cached.push_back(ip);
  };
  for (auto* i = list; i != nullptr; i = i->ifa_next) {
    add(i->ifa_addr);
    if ((i->ifa_flags & IFF_BROADCAST) != 0) add(i->ifa_broadaddr);
  }
  freeifaddrs(list);
  return cached;
}

// --hosts-file: "ADDRESS NAME [NAME...]" lines, '#' comments (like /etc/hosts). A name listed
// there resolves to its listed addresses only. Read per stream (small; tests and overrides).
std::vector<policy::DestAddr> hosts_lookup(const std::string& file, const std::string& name) {
  std::vector<policy::DestAddr> out;
  if (file.empty()) return out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string addr, n;
    if (!(words >> addr)) continue;
    auto a = policy::parse_dest_ip(addr);
    if (!a) continue;
    while (words >> n) {
      auto norm = normalize_hostname(n, false);
      if (norm && *norm == name) out.push_back(*a);
    }
  }
  return out;
}

asio::ip::address to_asio(const policy::DestAddr& a) {
  if (a.v4()) {
    asio::ip::address_v4::bytes_type b{a.ip.bytes[12], a.ip.bytes[13], a.ip.bytes[14], a.ip.bytes[15]};
    return asio::ip::address_v4(b);
  }
  asio::ip::address_v6::bytes_type b;
  std::copy(a.ip.bytes.begin(), a.ip.bytes.end(), b.begin());
  unsigned long scope = 0;
  if (!a.zone.empty()) {
    scope = if_nametoindex(a.zone.c_str());
    if (scope == 0) scope = std::strtoul(a.zone.c_str(), nullptr, 10);
  }
  return asio::ip::address_v6(b, static_cast<asio::ip::scope_id_type>(scope));
}

struct Resolved {
  std::vector<policy::DestAddr> addrs;
  std::string error;  // resolving failed
  bool timed_out = false;
};

net::Task<Resolved> resolve(const std::string& name, std::uint16_t port, const std::string& hosts_file) {
  Resolved out;
  out.addrs = hosts_lookup(hosts_file, name);
  if (!out.addrs.empty()) co_return out;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer deadline(ex, kResolveTimeout);
  net::tcp::resolver resolver(ex);
  auto port_text = std::to_string(port);
  auto r = co_await (resolver.async_resolve(name, port_text, net::use_nothrow) || deadline.async_wait(net::use_nothrow));
  if (r.index() == 1) {
    out.timed_out = true;
    out.error = fmt::format("resolving {} timed out", name);
    co_return out;
  }
  auto [ec, results] = std::get<0>(r);
  if (ec) {
    out.error = fmt::format("cannot resolve {}: {}", name, ec.message());
    co_return out;
  }
  for (const auto& e : results) {
    // The same canonical form as an address given by the client (mapped/compatible -> IPv4).
    auto a = policy::parse_dest_ip(e.endpoint().address().to_string());
    if (!a) continue;
    const bool dup = std::any_of(out.addrs.begin(), out.addrs.end(),
                                 [&](const policy::DestAddr& b) { return b.ip.bytes == a->ip.bytes && b.zone == a->zone; });
    if (!dup) out.addrs.push_back(*a);
  }
  co_return out;
}

void refuse(session::MuxStream& stream, const std::string& tunnel, const proto::OpenMeta& meta, const std::string& code,
            const std::string& reason) {
  refused(code).inc();
  spdlog::warn("exit {}: refused {} for {}: {}", tunnel, meta.target, meta.visitor.empty() ? "?" : meta.visitor, reason);
  stream.reset(make_error(Errc::forbidden, "the exit refused {}: {}", meta.target, reason));
}

}  // namespace

net::Task<void> serve_exit(std::shared_ptr<session::MuxStream> stream, TunnelState& t, proto::OpenMeta meta) {
  if (meta.transport == "udp") {  // a SOCKS5 UDP association (exit_udp.cpp)
    co_await serve_exit_udp(std::move(stream), t, std::move(meta));
    co_return;
  }
  const auto& name = t.config.private_name.empty() ? t.config.name : t.config.private_name;
  if (meta.target.empty()) {
    refuse(*stream, name, meta, "bad_target", "no destination in the stream's OPEN (use porthole socks)");
    co_return;
  }
  auto dest = policy::split_dest(meta.target);
  if (!dest) {
    refuse(*stream, name, meta, "bad_target", dest.error().message);
    co_return;
  }
  auto pol = policy::DestPolicy::parse(t.config.allow_dest);
  if (!pol) {  // checked when the exit started; kept as a refusal, never an open door
    refuse(*stream, name, meta, "bad_config", pol.error().message);
    co_return;
  }
  pol->set_own_addresses(own_addresses());
  std::vector<policy::DestAddr> addrs;
  std::string host;  // "" when the client gave an address
  if (auto ip = policy::parse_dest_ip(dest->host)) {
    addrs.push_back(*ip);
  } else {
    auto norm = normalize_hostname(dest->host, false);
    if (!norm) {
      refuse(*stream, name, meta, "bad_name", fmt::format("'{}' is not a host name: {}", dest->host, norm.error().message));
      co_return;
    }
    host = *norm;
    auto res = co_await resolve(host, dest->port, t.config.hosts_file);
    if (!res.error.empty()) {
      spdlog::info("exit {}: {} for {}", name, res.error, meta.visitor);
      stream->reset(make_error(res.timed_out ? Errc::timed_out : Errc::generic, "{}", res.error));
      co_return;
    }
    addrs = std::move(res.addrs);
  }
  auto verdict = pol->check(host, addrs, dest->port);
  if (!verdict.allowed) {
    refuse(*stream, name, meta, verdict.code, verdict.reason);
    co_return;
  }
  // Connect to exactly the addresses that were checked, in the resolver's order.
  std::vector<net::tcp::endpoint> endpoints;
  for (const auto& a : addrs) endpoints.emplace_back(to_asio(a), dest->port);
  auto ex = co_await asio::this_coro::executor;
  net::tcp::socket sock(ex);
  asio::steady_timer deadline(ex, kConnectTimeout);
  auto c = co_await (asio::async_connect(sock, endpoints, net::use_nothrow) || deadline.async_wait(net::use_nothrow));
  if (c.index() == 1) {
    count_dial_failure();
    stream->reset(make_error(Errc::timed_out, "connecting to {} timed out", meta.target));
    co_return;
  }
  auto [cec, ep] = std::get<0>(c);
  if (cec) {
    count_dial_failure();
    spdlog::info("exit {}: cannot connect to {}: {}", name, meta.target, cec.message());
    stream->reset(make_error(Errc::refused, "cannot connect to {}: {}", meta.target, cec.message()));
    co_return;
  }
  connected_total().inc();
  ++t.connections_total;
  ++t.connections_open;
  spdlog::debug("exit {}: {} -> {} ({})", name, meta.visitor, meta.target, net::format_endpoint(ep));
  net::TcpStream conn(std::move(sock));
  static constexpr std::uint8_t kConnected[1] = {0x00};
  auto w = co_await stream->write(kConnected);
  if (!w) {
    --t.connections_open;
    co_return;
  }
  auto r = co_await net::pump(*stream, conn);
  --t.connections_open;
  spdlog::debug("exit {}: stream {} done: {} bytes out, {} back {}", name, stream->id(), r.a_to_b, r.b_to_a, r.error);
}

}  // namespace porthole::agent
