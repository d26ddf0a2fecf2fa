// The agent as the agent API's Backend: tunnel info with metrics, tunnels started and stopped
// at run time, replays, the session's status.
#include <spdlog/spdlog.h>

#include "agent/agent.hpp"
#include "agent/replay.hpp"
#include "core/address.hpp"
#include "proto/auth.hpp"

#ifndef PORTHOLE_VERSION
#define PORTHOLE_VERSION "0.1.0"
#endif

namespace porthole::agent {

namespace {
constexpr auto kStartTimeout = std::chrono::seconds(10);
}

inspect::TunnelInfo Agent::info(const TunnelState& t) {
  const auto now = std::chrono::steady_clock::now();
  auto& s = const_cast<TunnelState&>(t).stats;  // the meters tick when read
  inspect::TunnelInfo i;
  i.name = t.config.name;
  // ngrok says "https" for an https URL; porthole's endpoints are http (and https when the
  // relay terminates TLS): the URL's scheme.
  i.proto = t.config.proto;
  if (t.config.proto == "http" && t.public_url.starts_with("https://")) i.proto = "https";
  i.public_url = t.public_url;
  i.addr = (t.config.proto == "http" ? t.config.upstream + "://" : std::string()) + format_host_port(t.config.local);
  i.error = t.error;
  i.inspect = t.recorder != nullptr;
  i.conns = inspect::snapshot(s.conns, now, s.conns_open);
  i.http = inspect::snapshot(s.http, now);
  return i;
}

std::vector<inspect::TunnelInfo> Agent::tunnels() {
  std::vector<inspect::TunnelInfo> out;
  for (const auto& [name, t] : tunnels_) out.push_back(info(*t));
  return out;
}

net::Task<Result<inspect::TunnelInfo>> Agent::start_tunnel(inspect::TunnelSpec spec) {
  if (spec.proto != "http" && spec.proto != "tcp") {
    co_return make_error(Errc::protocol, "proto: 'http' or 'tcp' (got '{}')", spec.proto);
  }
  // ngrok's addr: "8080", "localhost:8080", "http://localhost:8080".
  std::string addr = spec.addr;
  std::string upstream = "http";
  for (const char* scheme : {"http://", "https://"}) {
    if (addr.starts_with(scheme)) {
      upstream = std::string(scheme).substr(0, std::string(scheme).size() - 3);
      addr = addr.substr(std::string(scheme).size());
    }
  }
  auto local = parse_host_port(addr, "127.0.0.1");
  if (!local) co_return make_error(Errc::protocol, "addr: {}", local.error().message);
  if (!spec.subdomain.empty() && !spec.hostname.empty()) {
    co_return make_error(Errc::protocol, "subdomain and hostname: give one of them");
  }
  config::TunnelConfig c;
  c.name = spec.name;
  c.proto = spec.proto;
  c.local = *local;
  c.subdomain = spec.subdomain;
  c.hostname = spec.hostname;
  c.upstream = upstream;
  if (!spec.host_header.empty()) c.host_header = spec.host_header;
  if (auto r = add_tunnel(c); !r) co_return r.error();
  auto t = tunnels_.at(spec.name);
  if (!spec.inspect) t->recorder = nullptr;
  spdlog::info("tunnel {}: started from the agent API ({} -> {})", spec.name, spec.proto, format_host_port(*local));
  // Wait for the relay's bound / bind_error (bounded; offline, the tunnel waits for the next
  // session and is reported without a public URL).
  net::asio::steady_timer deadline(io_, kStartTimeout);
  bool expired = false;
  deadline.async_wait([&](const net::error_code& ec) {
    if (!ec) {
      expired = true;
      tunnels_changed_.notify();
    }
  });
  while (!expired && connected() && t->public_url.empty() && t->error.empty()) co_await tunnels_changed_.wait();
  deadline.cancel();
  if (!t->error.empty()) {
    auto why = t->error;
    (void)remove_tunnel(spec.name);
    co_return make_error(Errc::refused, "the relay refused the tunnel: {}", why);
  }
  co_return info(*t);
}

Result<void> Agent::stop_tunnel(std::string_view name) { return remove_tunnel(name); }

net::Task<Result<int>> Agent::replay(std::string tunnel, std::string request, std::string replay_of) {
  auto it = tunnels_.find(tunnel);
  if (it == tunnels_.end()) co_return make_error(Errc::no_such_tunnel, "no tunnel named {}", tunnel);
  if (it->second->config.proto != "http") co_return make_error(Errc::protocol, "tunnel {} is not http", tunnel);
  auto t = it->second;
  spdlog::info("tunnel {}: replaying request {}", tunnel, replay_of);
  auto task = replay_http(t, std::move(request), std::move(replay_of));  // arguments consumed before the co_await
  auto r = co_await std::move(task);
  co_return r;
}

inspect::StatusInfo Agent::status() {
  inspect::StatusInfo s;
  s.session = connected() ? "online" : reconnects_ == 0 && last_error_.empty() ? "connecting" : "reconnecting";
  if (!connected()) s.reason = last_error_;
  s.relay = cfg_.relay;
  s.version = PORTHOLE_VERSION;
  s.agent_name = cfg_.name;
  s.token_name = cfg_.token.empty() ? std::string() : proto::token_id(cfg_.token);  // the token's id, never the token
  s.latency_us = connected() ? rtt().count() : 0;
  s.reconnects = reconnects_;
  s.uptime_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
  return s;
}

}  // namespace porthole::agent
