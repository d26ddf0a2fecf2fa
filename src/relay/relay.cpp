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
#include "relay/port_choice.hpp"
#include "relay/scopes.hpp"
#include "relay/tcp_endpoint.hpp"

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

Relay::~Relay() = default;

Result<void> Relay::start() {
  auto ctx = net::make_server_context(identity_);
  if (!ctx) return ctx.error();
  tls_ctx_ = *ctx;
  auto addr = parse_host_port(cfg_.agents, "0.0.0.0", true);
  if (!addr) return make_error("--agents: {}", addr.error().message);
  public_host_ = addr->host;
  auto acc = net::listen_tcp(io_.get_executor(), addr->host, addr->port);
  if (!acc) return make_error("--agents: {}", acc.error().message);
  acceptor_ = std::move(*acc);
  asio::co_spawn(io_, accept_loop(), asio::detached);
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

void Relay::on_authenticated(const std::shared_ptr<AgentConn>&) {}

void Relay::on_closed(AgentConn* conn) {
  for (auto it = endpoints_.begin(); it != endpoints_.end();) {
    if (it->second->attached_to(&conn->session())) {
      it->second->stop();
      it = endpoints_.erase(it);
    } else {
      ++it;
    }
  }
  // Erase later: we are inside the connection's own callback.
  asio::post(io_, [this, id = conn->session().id()] { conns_.erase(id); });
}

bool Relay::port_usable(std::uint16_t port, const std::string& token_name, const std::string& tunnel) const {
  if (store_->port_reserved_by_other(port, token_name, tunnel)) return false;
  for (const auto& [key, ep] : endpoints_) {
    if (ep->port() == port) return false;
  }
  return true;
}

Result<std::string> Relay::bind_tcp(const std::shared_ptr<AgentConn>& conn, const std::string& tunnel,
                                    std::optional<std::uint16_t> asked) {
  const auto& token = conn->token().name;
  const auto key = token + "/" + tunnel;
  if (auto it = endpoints_.find(key); it != endpoints_.end()) {
    // The same agent came back (perhaps before its old session was found dead): hand it over.
    if (!asked || *asked == it->second->port()) {
      if (!it->second->attached_to(&conn->session())) {
        spdlog::info("endpoint {} moves to session {}", it->second->public_url(), conn->session().id());
      }
      it->second->attach(conn->session_ptr());
      return it->second->public_url();
    }
    it->second->stop();
    endpoints_.erase(it);
  }
  PortRequest req;
  req.asked = asked;
  req.reserved = store_->reserved_port(token, tunnel);
  req.allowed = conn->token().scopes.allow_port.value_or(cfg_.tcp_ports);
  std::unique_ptr<net::tcp::acceptor> acceptor;
  std::string last_error;
  auto usable = [&](std::uint16_t p) {
    if (!port_usable(p, token, tunnel)) return false;
    auto acc = net::listen_tcp(io_.get_executor(), public_host_, p);
    if (!acc) {
      last_error = acc.error().message;
      return false;
    }
    acceptor = std::move(*acc);
    return true;
  };
  auto port = choose_port(req, usable);
  if (!port) return make_error("{}{}{}", port.error().message, last_error.empty() ? "" : ": ", last_error);
  if (auto r = store_->reserve_port(token, tunnel, *port); !r) {
    spdlog::warn("could not record the reservation of port {}: {}", *port, r.error().message);
  }
  auto url = fmt::format("tcp://{}", format_host_port(cfg_.domain, *port));
  auto ep = std::make_shared<TcpEndpoint>(std::move(acceptor), tunnel, url);
  ep->attach(conn->session_ptr());
  ep->start();
  endpoints_[key] = ep;
  store_->audit("endpoint_bound", fmt::format("{} -> {} ({})", url, tunnel, conn->name()));
  spdlog::info("endpoint {} bound for tunnel {} of agent {}", url, tunnel, conn->name());
  return url;
}

void Relay::unbind(AgentConn* conn, const std::string& tunnel) {
  auto it = endpoints_.find(conn->token().name + "/" + tunnel);
  if (it == endpoints_.end() || !it->second->attached_to(&conn->session())) return;
  it->second->stop();
  endpoints_.erase(it);
  conn->tunnels().erase(tunnel);
}

void Relay::shutdown(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  net::error_code ec;
  if (acceptor_) acceptor_->close(ec);
  for (auto& [key, ep] : endpoints_) ep->stop();
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
        endpoints_.clear();
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
  for (const auto& [key, ep] : endpoints_) {
    out.push_back(EndpointInfo{key, ep->tunnel(), key.substr(0, key.find('/')), ep->public_url(), ep->agent_id(),
                               ep->port(), ep->visitors_total(), ep->visitors_open()});
  }
  return out;
}

bool Relay::kick(std::string_view agent_id) {
  auto it = conns_.find(std::string(agent_id));
  if (it == conns_.end()) return false;
  it->second->session().close("kicked by the administrator");
  return true;
}

}  // namespace porthole::relay
