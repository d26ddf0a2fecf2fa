// The exit's connection step (exit_dial.hpp): moved here from agent/exit_tunnel.cpp so the
// relay's own exit (`--via relay`) runs exactly the same check and connect.
#include "egress/exit_dial.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include "core/hostname.hpp"
#include "core/metrics.hpp"
#include "net/tcp_stream.hpp"

namespace porthole::egress {

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

// Asio's resolver runs getaddrinfo on its own thread: the event loop keeps serving meanwhile.
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

// The operator's spelling of the allow-list in texts ("[exit] allow_dest" on the relay).
std::string in_words_of(const ExitRules& rules, std::string text) {
  static constexpr std::string_view kFlag = "--allow-dest";
  if (rules.hint == kFlag) return text;
  for (auto at = text.find(kFlag); at != std::string::npos; at = text.find(kFlag, at + rules.hint.size())) {
    text.replace(at, kFlag.size(), rules.hint);
  }
  return text;
}

ExitDial refuse(const ExitRules& rules, std::string_view target, std::string_view visitor, const std::string& code,
                const std::string& why) {
  const auto reason = in_words_of(rules, why);
  refused(code).inc();
  spdlog::warn("exit {}: refused {} for {}: {}", rules.exit_name, target, visitor.empty() ? "?" : visitor, reason);
  ExitDial out;
  out.error = make_error(Errc::forbidden, "the exit refused {}: {}", target, reason);
  return out;
}

}  // namespace

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

void count_exit_refused(const std::string& code) {
  refused(code).inc();
}

void count_exit_connected() {
  static auto& c = metrics::counter("porthole_exit_connections_total", "exit streams connected to their destination");
  c.inc();
}

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

net::Task<ExitDial> dial_exit(const ExitRules& rules, std::string target, std::string visitor) {
  if (target.empty()) co_return refuse(rules, target, visitor, "bad_target", "no destination in the stream's OPEN (use porthole socks)");
  auto dest = policy::split_dest(target);
  if (!dest) co_return refuse(rules, target, visitor, "bad_target", dest.error().message);
  auto pol = policy::DestPolicy::parse(rules.allow_dest);
  if (!pol) {  // checked when the exit started; kept as a refusal, never an open door
    co_return refuse(rules, target, visitor, "bad_config", pol.error().message);
  }
  pol->set_own_addresses(own_addresses());
  std::vector<policy::DestAddr> addrs;
  std::string host;  // "" when the client gave an address
  if (auto ip = policy::parse_dest_ip(dest->host)) {
    addrs.push_back(*ip);
  } else {
    auto norm = normalize_hostname(dest->host, false);
    if (!norm) {
      co_return refuse(rules, target, visitor, "bad_name",
                       fmt::format("'{}' is not a host name: {}", dest->host, norm.error().message));
    }
    host = *norm;
    auto res = co_await resolve(host, dest->port, rules.hosts_file);
    if (!res.error.empty()) {
      spdlog::info("exit {}: {} for {}", rules.exit_name, res.error, visitor);
      ExitDial out;
      out.error = make_error(res.timed_out ? Errc::timed_out : Errc::generic, "{}", res.error);
      co_return out;
    }
    addrs = std::move(res.addrs);
  }
  auto verdict = pol->check(host, addrs, dest->port);
  if (!verdict.allowed) co_return refuse(rules, target, visitor, verdict.code, verdict.reason);
  // Connect to exactly the addresses that were checked, in the resolver's order.
  std::vector<net::tcp::endpoint> endpoints;
  for (const auto& a : addrs) endpoints.emplace_back(to_asio(a), dest->port);
  auto ex = co_await asio::this_coro::executor;
  net::tcp::socket sock(ex);
  asio::steady_timer deadline(ex, kConnectTimeout);
  auto c = co_await (asio::async_connect(sock, endpoints, net::use_nothrow) || deadline.async_wait(net::use_nothrow));
  ExitDial out;
  if (c.index() == 1) {
    out.connect_failed = true;
    out.error = make_error(Errc::timed_out, "connecting to {} timed out", target);
    co_return out;
  }
  auto [cec, ep] = std::get<0>(c);
  if (cec) {
    spdlog::info("exit {}: cannot connect to {}: {}", rules.exit_name, target, cec.message());
    out.connect_failed = true;
    out.error = make_error(Errc::refused, "cannot connect to {}: {}", target, cec.message());
    co_return out;
  }
  count_exit_connected();
  out.endpoint = net::format_endpoint(ep);
  out.socket.emplace(std::move(sock));
  co_return out;
}

}  // namespace porthole::egress
