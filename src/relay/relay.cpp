#include "relay/relay.hpp"

#include <algorithm>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include "core/encoding.hpp"
#include "core/metrics.hpp"
#include "net/listen.hpp"
#include "net/tcp_stream.hpp"
#include "net/tls_socket.hpp"
#include "relay/agent_conn.hpp"
#include "relay/endpoint_kinds.hpp"
#include "config/policy_file.hpp"
#include "relay/cert_store.hpp"
#include "relay/http_listener.hpp"
#include "relay/https_listener.hpp"
#include "relay/jwks_cache.hpp"
#include "relay/policy_fetch.hpp"

namespace porthole::relay {

namespace asio = net::asio;

namespace {

metrics::Counter& handshake_failures(std::string_view reason) {
  if (reason == "tls") {
    static auto& c = metrics::counter("porthole_relay_handshake_failures_total{reason=\"tls\"}",
                                      "Agent handshakes that failed");
    return c;
  }
  static auto& c = metrics::counter("porthole_relay_handshake_failures_total{reason=\"over_limit\"}",
                                    "Agent handshakes that failed");
  return c;
}

std::string new_session_id() {
  std::uint8_t b[8];
  RAND_bytes(b, sizeof b);
  return encoding::hex_encode(b);
}

}  // namespace

// Handshakes in progress (TLS + hello), overall and per source address. When a cap is
// reached the oldest pending handshake is dropped, not the newcomer: a flood of idle or
// garbage connections cannot keep a real agent (whose handshake takes milliseconds) out.
struct Relay::PendingCounts {
  struct Entry {
    std::uint64_t id;
    std::string ip;
    net::TlsSocket* tls;
    bool evicted = false;
  };
  std::vector<Entry> entries;  // oldest first
  std::uint64_t next_id = 1;

  std::size_t count_ip(const std::string& ip) const {
    return static_cast<std::size_t>(
        std::count_if(entries.begin(), entries.end(), [&](auto& e) { return !e.evicted && e.ip == ip; }));
  }
  std::size_t live() const {
    return static_cast<std::size_t>(std::count_if(entries.begin(), entries.end(), [](auto& e) { return !e.evicted; }));
  }
  // Drops the oldest entry (of `ip` when given).
  void evict_oldest(const std::string* ip) {
    for (auto& e : entries) {
      if (!e.evicted && (!ip || e.ip == *ip)) {
        handshake_failures("over_limit").inc();
        e.evicted = true;
        e.tls->close();  // its handshake coroutine fails and removes the entry
        return;
      }
    }
  }
  void remove(std::uint64_t id) {
    std::erase_if(entries, [&](auto& e) { return e.id == id; });
  }
};

Relay::Relay(asio::io_context& io, config::RelayConfig cfg, std::unique_ptr<Store> store,
             net::ServerIdentity identity)
    : io_(io),
      cfg_(std::move(cfg)),
      store_(std::move(store)),
      identity_(std::move(identity)),
      pending_(std::make_unique<PendingCounts>()) {}

Relay::~Relay() {
  if (acme_) acme_->stop();  // its coroutines may outlive the relay; they must not use cert_sink_
}

Result<void> Relay::start() {
  auto ctx = net::make_server_context(identity_);
  if (!ctx) return ctx.error();
  tls_ctx_ = *ctx;
  auto addr = parse_host_port(cfg_.agents, "0.0.0.0", true);
  if (!addr) return make_error("--agents: {}", addr.error().message);
  listen_host_ = addr->host;
  auto acc = net::listen_tcp(io_.get_executor(), addr->host, addr->port);
  if (!acc) return make_error("--agents: {}", acc.error().message);
  acceptor_ = std::move(*acc);
  auto pctx = make_policy_context(cfg_);
  if (!pctx) return pctx.error();
  policy_ctx_ = std::move(*pctx);
  if (!cfg_.policy.empty()) {
    auto p = config::parse_policy(cfg_.policy, "relay.toml [policy]");
    if (!p) return p.error();
    relay_policy_ = std::move(*p);
    prepare_policy(*relay_policy_, *policy_ctx_);
  }
  if (cfg_.http != "off" || cfg_.https != "off") http_ = std::make_shared<HttpListener>(io_, cfg_, *store_, registry_);
  if (cfg_.http != "off") {
    if (auto r = http_->start(cfg_.http); !r) return make_error("--http: {}", r.error().message);
  }
  if (auto r = start_https(); !r) return r;
  if (auto r = start_acme(); !r) return r;
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return {};
}

std::uint16_t Relay::http_port() const { return http_ ? http_->port() : 0; }
std::uint16_t Relay::https_port() const { return https_ ? https_->port() : 0; }

Result<void> Relay::start_https() {
  if (cfg_.https == "off") return {};
  CertStore::Options o{cfg_.data_dir, cfg_.domain, cfg_.certificates};
  if (!cfg_.cert_file.empty()) o.files.push_back({"", cfg_.cert_file, cfg_.key_file});  // names from the certificate
  auto certs = CertStore::create(o);
  if (!certs) return make_error("--https: {}", certs.error().message);
  certs_ = *certs;
  https_ = std::make_shared<HttpsListener>(io_, cfg_, registry_, certs_, http_);
  if (auto r = https_->start(cfg_.https); !r) return make_error("--https: {}", r.error().message);
  http_->set_https_port(https_->port());
  return {};
}

std::uint16_t Relay::agent_port() const {
  net::error_code ec;
  return acceptor_ ? acceptor_->local_endpoint(ec).port() : 0;
}

net::Task<void> Relay::accept_loop() {
  while (acceptor_ && acceptor_->is_open()) {
    auto [ec, sock] = co_await acceptor_->async_accept(net::use_nothrow);
    if (ec == asio::error::operation_aborted || stopping_) break;
    if (ec) {
      co_await net::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    asio::co_spawn(io_, handshake(std::move(sock)), asio::detached);
  }
}

net::Task<void> Relay::handshake(net::tcp::socket socket) {
  net::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const auto ip = remote.address().to_string();
  const auto address = net::format_endpoint(remote);
  auto tls = std::make_unique<net::TlsSocket>(std::move(socket), tls_ctx_->native_handle(), net::TlsSocket::Side::server);
  auto& pending = *pending_;
  if (pending.count_ip(ip) >= cfg_.max_pending_per_ip) pending.evict_oldest(&ip);
  if (pending.live() >= cfg_.max_pending_handshakes) pending.evict_oldest(nullptr);
  const auto pid = pending.next_id++;
  pending.entries.push_back({pid, ip, tls.get()});
  // Released when the agent is authenticated or gone, whichever comes first.
  auto release = [this, pid] { pending_->remove(pid); };
  const auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.handshake_timeout);
  auto hs = co_await tls->handshake(deadline);
  if (!hs || stopping_) {
    handshake_failures("tls").inc();
    spdlog::debug("agent handshake from {} failed: {}", address, hs ? "relay stopping" : hs.error().message);
    release();
    co_return;
  }
  auto binding = net::channel_binding(tls->ssl());
  if (!binding) {
    handshake_failures("tls").inc();
    release();
    co_return;
  }
  session::SessionOptions opts;
  opts.heartbeat = cfg_.heartbeat;
  auto session = std::make_shared<session::Session>(std::move(tls), proto::Role::server, opts, new_session_id());
  auto conn = std::make_shared<AgentConn>(*this, session, std::move(*binding), address);
  conns_[session->id()] = conn;
  conn->start(cfg_.handshake_timeout, release);
}

void Relay::on_closed(AgentConn& conn) {
  drop_members(&conn.session(), {});
  // Erase later: we are inside the connection's own callback.
  asio::post(io_, [this, id = conn.session().id()] { conns_.erase(id); });
}

void Relay::drop_members(const session::Session* s, std::string_view tunnel) {
  for (const auto& ep : registry_.all()) {
    if (!ep->served_by(s)) continue;
    if (ep->detach(s, tunnel)) {
      ep->stop();
      registry_.remove(ep);
    }
  }
}

Result<std::string> Relay::bind(const std::shared_ptr<AgentConn>& conn, const proto::Bind& bind) {
  const auto* kind = find_endpoint_kind(bind.proto);
  if (kind == nullptr) {
    return make_error("tunnel kind '{}' is not supported by this relay (it serves: {})", bind.proto,
                      endpoint_kind_names());
  }
  // URLs visitors can open: --domain when it was set, else the relay host the agent dialed.
  auto public_host = cfg_.domain;
  if (public_host == "localhost" && !conn->relay_host().empty()) public_host = conn->relay_host();
  BindContext ctx{io_, cfg_, *store_, registry_, listen_host_, public_host, http_port(), https_port()};
  std::shared_ptr<policy::Policy> policy;
  if (!bind.policy.empty()) {  // compiled once, here, for the endpoint
    auto p = config::parse_policy(bind.policy, fmt::format("tunnel {} policy", bind.tunnel));
    if (!p) return make_error("policy refused by the relay:\n{}", p.error().message);
    policy = std::move(*p);
    prepare_policy(*policy, *policy_ctx_);
  }
  BindRequest req{bind, conn->token(), Member{conn->session_ptr(), bind.tunnel, conn->name(), conn->address(), bind.local}};
  auto bound = kind->bind(ctx, req);
  if (!bound) return bound.error();
  bound->endpoint->set_policy(std::move(policy), relay_policy_);
  if (acme_ && bind.proto == "http") acme_->want(bound->endpoint->name());  // a no-op when it has one
  const auto& url = bound->endpoint->public_url();
  for (const auto& m : bound->displaced) {
    if (auto s = m.session.lock()) {
      spdlog::warn("endpoint {} taken over by agent {} ({}) from agent {} ({})", url, conn->name(), conn->address(),
                   m.agent_name, m.agent_addr);
      s->send_control(proto::encode(proto::TakenOver{m.tunnel, url, conn->address()}));
    }
  }
  store_->audit("endpoint_bound", fmt::format("{} -> {} ({})", url, bind.tunnel, conn->name()));
  spdlog::info("endpoint {} bound for tunnel {} of agent {}{}", url, bind.tunnel, conn->name(),
               bound->endpoint->is_pool() ? fmt::format(" (pool of {})", bound->endpoint->agent_count()) : "");
  return url;
}

void Relay::set_health(AgentConn& conn, const proto::Health& h) {
  for (const auto& ep : registry_.all()) {
    if (ep->set_healthy(&conn.session(), h.tunnel, h.healthy)) {
      spdlog::warn("endpoint {}: agent {} is {}{}{}", ep->public_url(), conn.name(), h.healthy ? "healthy" : "unhealthy",
                   h.detail.empty() ? "" : ": ", h.detail);
    }
  }
}

void Relay::unbind(AgentConn& conn, const std::string& tunnel) {
  drop_members(&conn.session(), tunnel);
  conn.tunnels().erase(tunnel);
}

void Relay::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  net::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  if (http_) http_->stop();
  if (https_) https_->stop();
  if (acme_) acme_->stop();
  for (const auto& ep : registry_.all()) ep->stop();
  for (auto& [id, conn] : conns_) conn->session().goaway("relay shutting down");
  asio::co_spawn(
      io_,
      [this, done = std::move(done)]() -> net::Task<void> {
        const auto deadline = std::chrono::steady_clock::now() + cfg_.shutdown_grace;
        for (;;) {
          std::size_t open = 0;
          for (auto& [id, conn] : conns_) open += conn->session().stream_count();
          if (open == 0 || std::chrono::steady_clock::now() >= deadline) break;
          co_await net::sleep_for(std::chrono::milliseconds(50));
        }
        auto conns = conns_;
        for (auto& [id, conn] : conns) conn->session().close("relay shutting down");
        for (const auto& ep : registry_.all()) registry_.remove(ep);
        done();
      },
      asio::detached);
}

std::vector<AgentInfo> Relay::agents() const {
  std::vector<AgentInfo> out;
  for (const auto& [id, conn] : conns_) {
    if (!conn->authenticated()) continue;
    auto& s = conn->session();
    out.push_back(AgentInfo{id, conn->name(), conn->token().name, conn->address(), s.stream_count(),
                            static_cast<std::int64_t>(s.rtt().count()), s.bytes_in(), s.bytes_out()});
  }
  return out;
}

std::vector<EndpointInfo> Relay::endpoints() const {
  std::vector<EndpointInfo> out;
  for (const auto& ep : registry_.all()) out.push_back(ep->info());
  return out;
}

bool Relay::kick(std::string_view agent_id) {
  auto it = conns_.find(std::string(agent_id));
  if (it == conns_.end()) return false;
  it->second->session().close("kicked by the administrator");
  return true;
}

}  // namespace porthole::relay
