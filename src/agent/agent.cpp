#include "agent/agent.hpp"

#include <spdlog/spdlog.h>

#include "agent/health.hpp"
#include "agent/relay_link.hpp"
#include "core/metrics.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "net/tls_server.hpp"

namespace porthole::agent {

namespace asio = net::asio;

namespace {
metrics::Counter& reconnects() {
  static auto& c = metrics::counter("porthole_agent_reconnects_total", "Sessions to the relay started again");
  return c;
}
// Serves one stream while holding the tunnel (a tunnel removed meanwhile stays alive for it)
// and counts it in the tunnel's connection metrics.
net::Task<void> serve_held(ServeFn serve, std::shared_ptr<session::MuxStream> stream,
                           std::shared_ptr<TunnelState> t, proto::OpenMeta meta) {
  const auto began = std::chrono::steady_clock::now();
  ++t->stats.conns_open;
  auto task = serve(std::move(stream), *t, std::move(meta));
  co_await std::move(task);
  --t->stats.conns_open;
  const auto now = std::chrono::steady_clock::now();
  t->stats.conns.record(now, now - began);
}
}  // namespace

Agent::Agent(asio::io_context& io, config::AgentConfig cfg, std::ostream& out)
    : io_(io),
      cfg_(std::move(cfg)),
      out_(out),
      rng_(std::random_device{}()),
      session_ended_(io.get_executor()),
      retry_timer_(io),
      tunnels_changed_(io.get_executor()) {
  for (const auto& t : cfg_.tunnels) {
    auto s = std::make_shared<TunnelState>();
    s->config = t;
    tunnels_[t.name] = std::move(s);
  }
}

Agent::~Agent() = default;

Result<void> Agent::start() {
  if (cfg_.relay.empty()) return make_error("{}", no_relay_help());
  if (cfg_.token.empty()) return make_error("no token: give --token or set PORTHOLE_TOKEN");
  if (tunnels_.empty()) return make_error("no tunnels to start");
  for (auto& [name, t] : tunnels_) {
    if (auto r = prepare_tunnel(*t); !r) return r.error();
  }
  auto ctx = net::make_client_context(relay_trust(cfg_));
  if (!ctx) return ctx.error();
  tls_ctx_ = *ctx;
  asio::co_spawn(io_, run(), asio::detached);
  return {};
}

void Agent::give_up(std::string_view why) {
  spdlog::error("{}", why);
  stopping_ = true;
  if (session_) session_->close("giving up");
  if (on_fatal_) on_fatal_(1);
}

net::Task<void> Agent::run() {
  while (!stopping_) {
    auto r = co_await run_session();
    if (stopping_) break;
    const auto reason = !fatal_.empty() ? fatal_ : r ? std::string("session ended") : r.error().message;
    last_error_ = reason;
    if (cfg_.exit_on_failure) {
      give_up(fmt::format("relay {}: {}", cfg_.relay, reason));
      break;
    }
    if (welcomed_) backoff_.reset();
    if (auth_refused_) backoff_.to_cap();
    welcomed_ = false;
    auth_refused_ = false;
    fatal_.clear();
    const auto delay = backoff_.next(std::uniform_real_distribution<double>(0, 1)(rng_));
    spdlog::warn("relay {}: {}; reconnecting in {:.1f}s", cfg_.relay, reason, static_cast<double>(delay.count()) / 1000);
    retry_timer_.expires_after(delay);
    co_await retry_timer_.async_wait(net::use_nothrow);
    reconnects().inc();
    ++reconnects_;
  }
}

net::Task<Result<void>> Agent::run_session() {
  auto link = co_await dial_relay(cfg_, *tls_ctx_);
  if (!link) co_return link.error();
  session::SessionOptions opts;
  opts.heartbeat = cfg_.heartbeat;
  session_ = std::make_shared<session::Session>(std::move(link->tls), proto::Role::client, opts, "relay");
  session::SessionCallbacks cb;
  cb.on_control = [this](std::string_view m) { on_control(m); };
  cb.on_open = [this](std::shared_ptr<session::MuxStream> s, std::string_view meta) { on_stream(std::move(s), meta); };
  auto reason = std::make_shared<std::string>();
  cb.on_close = [this, reason](std::string_view why) {
    *reason = why;
    session_ended_.notify();
  };
  session_->set_callbacks(std::move(cb));
  session_->start();
  // Zero round trips before the tunnels are asked for: hello and binds go out together.
  session_->send_control(proto::encode(link->hello));
  for (const auto& [name, t] : tunnels_) send_bind(*t);
  while (!session_->closed()) co_await session_ended_.wait();
  co_return make_error("{}", reason->empty() ? "session ended" : *reason);
}

void Agent::on_control(std::string_view message) {
  auto msg = proto::decode_control(message);
  if (!msg) {
    spdlog::warn("relay sent a bad control message: {}", msg.error().message);
    return;
  }
  if (std::holds_alternative<proto::Welcome>(*msg)) {
    welcomed_ = true;
    last_error_.clear();
    backoff_.reset();
    for (const auto& [name, t] : tunnels_) {
      if (!t->config.health_check.empty()) asio::co_spawn(io_, health_loop(session_, name), asio::detached);
    }
    spdlog::info("connected to relay {} (session {}, seen as {})", cfg_.relay, std::get<proto::Welcome>(*msg).session_id,
                 std::get<proto::Welcome>(*msg).observed_addr);
  } else if (auto* b = std::get_if<proto::Bound>(&*msg)) {
    auto it = tunnels_.find(b->tunnel);
    if (it == tunnels_.end()) return;
    tunnels_changed_.notify();
    it->second->error.clear();
    if (it->second->public_url != b->public_url) {
      it->second->public_url = b->public_url;
      const auto& c = it->second->config;
      const auto scheme = c.proto == "http" ? c.upstream + "://" : std::string();
      if (c.proto == "exit") {
        std::string allowed;
        for (const auto& d : c.allow_dest) allowed += (allowed.empty() ? "" : " ") + d;
        out_ << "Exit " << b->public_url << " allows " << (allowed.empty() ? "nothing" : allowed) << std::endl;
      } else {
        out_ << "Forwarding " << b->public_url << " -> " << scheme << format_host_port(c.local) << std::endl;
      }
    } else {
      spdlog::info("tunnel {} restored at {}", b->tunnel, b->public_url);
    }
  } else if (auto* e = std::get_if<proto::BindError>(&*msg)) {
    if (auto it = tunnels_.find(e->tunnel); it != tunnels_.end()) it->second->error = e->message;
    tunnels_changed_.notify();
    if (cfg_.exit_on_failure) return give_up(fmt::format("tunnel {}: the relay refused it: {}", e->tunnel, e->message));
    spdlog::error("tunnel {}: the relay refused it: {}", e->tunnel, e->message);
  } else if (auto* o = std::get_if<proto::TakenOver>(&*msg)) {
    if (auto it = tunnels_.find(o->tunnel); it != tunnels_.end()) it->second->public_url.clear();
    spdlog::error("tunnel {}: {} was taken over by another agent from {}; this agent no longer receives its traffic "
                  "(use --pool on both to share it)",
                  o->tunnel, o->public_url, o->by.empty() ? std::string("another address") : o->by);
  } else if (auto* f = std::get_if<proto::Fatal>(&*msg)) {
    if (!fatal_.empty()) return;  // the first reason is the real one
    fatal_ = fmt::format("the relay refused the session ({}): {}", f->code, f->message);
    if (f->code == "auth") {
      auth_refused_ = true;
      fatal_ += " — check --token / PORTHOLE_TOKEN";
    }
    spdlog::error("relay {}: {}", cfg_.relay, fatal_);
  }
}

// Runs the tunnel's health check while `session` lasts; the relay hears of every change (it
// assumes healthy at bind time).
net::Task<void> Agent::health_loop(std::shared_ptr<session::Session> session, std::string tunnel) {
  bool healthy = true;
  asio::steady_timer timer(io_);
  while (!session->closed() && !stopping_) {
    auto found = tunnels_.find(tunnel);
    if (found == tunnels_.end()) break;  // removed at run time
    const auto cfg = found->second->config;
    auto r = co_await check_health(cfg);
    if (session->closed()) break;
    if (r.ok() != healthy) {
      healthy = r.ok();
      if (healthy) {
        spdlog::info("tunnel {}: the local service is healthy again", tunnel);
      } else {
        spdlog::warn("tunnel {}: health check failed: {}", tunnel, r.error().message);
      }
      session->send_control(proto::encode(proto::Health{tunnel, healthy, healthy ? "" : r.error().message}));
    }
    timer.expires_after(kHealthInterval);
    co_await timer.async_wait(net::use_nothrow);
  }
}

void Agent::on_stream(std::shared_ptr<session::MuxStream> stream, std::string_view metadata) {
  auto meta = proto::decode_open(metadata);
  if (!meta) return stream->reset(Error{meta.error().message, Errc::protocol});
  if (stopping_) return stream->reset(make_error(Errc::shutdown, "the agent is shutting down"));
  auto it = tunnels_.find(meta->tunnel);
  if (it == tunnels_.end()) return stream->reset(make_error(Errc::no_such_tunnel, "no tunnel {} here", meta->tunnel));
  const auto* kind = find_tunnel_kind(it->second->config.proto);
  if (kind == nullptr) return stream->reset(make_error(Errc::no_such_tunnel, "tunnel kind {} is not served here",
                                                       it->second->config.proto));
  asio::co_spawn(io_, serve_held(kind->serve, std::move(stream), it->second, std::move(*meta)), asio::detached);
}

void Agent::send_bind(const TunnelState& t) {
  proto::Bind b;
  b.tunnel = t.config.name;
  b.proto = t.config.proto;
  b.remote_port = t.config.remote_port;
  b.local = format_host_port(t.config.local);
  b.subdomain = t.config.subdomain;
  b.hostname = t.config.hostname;
  b.pool = t.config.pool;
  if (!t.config.private_name.empty()) {
    b.proto = t.config.proto == "exit" ? "exit" : "private";  // the relay's endpoint kind; tcp streams are served as tcp here
    b.private_name = t.config.private_name;
  }
  b.policy = t.config.policy;
  if (t.config.terminate_at == "agent") b.terminate_at = "agent";
  b.redirect_https = t.config.redirect_https;
  if (t.config.hsts_max_age > 0) b.hsts = fmt::format("max-age={}", t.config.hsts_max_age);
  if (!t.config.mtls_ca.empty()) {
    auto pem = net::read_text_file(t.config.mtls_ca);
    if (!pem) {
      // Never expose it without the client certificate check it asked for.
      spdlog::error("tunnel {}: --mtls-ca: {} (not exposed)", t.config.name, pem.error().message);
      return;
    }
    b.mtls_ca = std::move(*pem);
  }
  session_->send_control(proto::encode(b));
}

void Agent::set_recorder(std::shared_ptr<inspect::Recorder> r) {
  recorder_ = std::move(r);
  for (auto& [name, t] : tunnels_) {
    if (t->config.proto == "http") t->recorder = recorder_;
  }
}

Result<void> Agent::add_tunnel(config::TunnelConfig c) {
  if (c.name.empty()) return make_error(Errc::protocol, "a tunnel needs a name");
  if (tunnels_.contains(c.name)) return make_error(Errc::conflict, "a tunnel named {} is already running", c.name);
  auto t = std::make_shared<TunnelState>();
  t->config = std::move(c);
  if (t->config.proto == "http") t->recorder = recorder_;
  if (auto r = prepare_tunnel(*t); !r) return r.error();
  auto& slot = tunnels_[t->config.name];
  slot = std::move(t);
  if (session_ && !session_->closed()) send_bind(*slot);  // else the next session binds it
  return {};
}

Result<void> Agent::remove_tunnel(std::string_view name) {
  auto it = tunnels_.find(std::string(name));
  if (it == tunnels_.end()) return make_error(Errc::no_such_tunnel, "no tunnel named {}", name);
  if (session_ && !session_->closed()) session_->send_control(proto::encode(proto::Unbind{it->first}));
  spdlog::info("tunnel {}: stopped ({})", it->first, it->second->public_url);
  tunnels_.erase(it);  // streams being served hold their own reference
  return {};
}

void Agent::shutdown(std::function<void()> done) {
  stopping_ = true;
  retry_timer_.cancel();
  if (!session_ || session_->closed()) {
    done();
    return;
  }
  for (const auto& [name, t] : tunnels_) session_->send_control(proto::encode(proto::Unbind{name}));
  asio::co_spawn(
      io_,
      [this, done = std::move(done)]() -> net::Task<void> {
        const auto deadline = std::chrono::steady_clock::now() + cfg_.shutdown_grace;
        while (session_ && !session_->closed() && session_->stream_count() > 0 &&
               std::chrono::steady_clock::now() < deadline) {
          co_await net::sleep_for(std::chrono::milliseconds(50));
        }
        if (session_) session_->close("agent shutting down");
        done();
      },
      asio::detached);
}

}  // namespace porthole::agent
