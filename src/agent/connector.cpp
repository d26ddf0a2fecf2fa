#include "agent/connector.hpp"

#include <spdlog/spdlog.h>

#include "agent/relay_link.hpp"
#include "core/metrics.hpp"
#include "proto/messages.hpp"

namespace porthole::agent {

namespace asio = net::asio;

namespace {
metrics::Counter& reconnects() {
  static auto& c = metrics::counter("porthole_connect_reconnects_total", "porthole connect sessions started again");
  return c;
}
}  // namespace

Connector::Connector(asio::io_context& io, config::AgentConfig cfg)
    : io_(io), cfg_(std::move(cfg)), rng_(std::random_device{}()), changed_(io.get_executor()), retry_timer_(io) {}

Connector::~Connector() {
  if (session_) session_->close("connect ending");
}

Result<void> Connector::start() {
  if (cfg_.relay.empty()) return make_error("{}", no_relay_help());
  if (cfg_.token.empty()) return make_error("no token: give --token or set PORTHOLE_TOKEN");
  auto ctx = net::make_client_context(relay_trust(cfg_));
  if (!ctx) return ctx.error();
  tls_ctx_ = *ctx;
  asio::co_spawn(io_, run(), asio::detached);
  return {};
}

void Connector::stop() {
  stopping_ = true;
  retry_timer_.cancel();
  if (session_) session_->close_after_flush("connect ending");  // a last FIN still goes out
  changed_.notify();
}

net::Task<void> Connector::run() {
  while (!stopping_) {
    auto r = co_await run_session();
    if (stopping_) break;
    if (!r) last_error_ = r.error().message;
    if (welcomed_) backoff_.reset();
    if (auth_refused_) backoff_.to_cap();
    welcomed_ = false;
    const auto delay = backoff_.next(std::uniform_real_distribution<double>(0, 1)(rng_));
    spdlog::warn("relay {}: {}; reconnecting in {:.1f}s", cfg_.relay, last_error_,
                 static_cast<double>(delay.count()) / 1000);
    retry_timer_.expires_after(delay);
    co_await retry_timer_.async_wait(net::use_nothrow);
    reconnects().inc();
  }
}

net::Task<Result<void>> Connector::run_session() {
  auto link = co_await dial_relay(cfg_, *tls_ctx_);
  if (!link) co_return link.error();
  session::SessionOptions opts;
  opts.heartbeat = cfg_.heartbeat;
  auto session = std::make_shared<session::Session>(std::move(link->tls), proto::Role::client, opts, "relay");
  session::SessionCallbacks cb;
  cb.on_control = [this](std::string_view m) { on_control(m); };
  auto reason = std::make_shared<std::string>();
  cb.on_close = [this, reason](std::string_view why) {
    *reason = why;
    changed_.notify();
  };
  session->set_callbacks(std::move(cb));  // no on_open: the relay may not open streams to us
  session->start();
  link->hello.role = "connect";
  session->send_control(proto::encode(link->hello));
  session_ = session;
  auth_refused_ = false;
  changed_.notify();
  while (!session->closed()) co_await changed_.wait();
  if (last_error_.empty() || welcomed_) last_error_ = reason->empty() ? "session ended" : *reason;
  co_return make_error("{}", last_error_);
}

void Connector::on_control(std::string_view message) {
  auto msg = proto::decode_control(message);
  if (!msg) {
    spdlog::warn("relay sent a bad control message: {}", msg.error().message);
    return;
  }
  if (auto* w = std::get_if<proto::Welcome>(&*msg)) {
    welcomed_ = true;
    backoff_.reset();
    last_error_.clear();
    spdlog::info("connected to relay {} (session {})", cfg_.relay, w->session_id);
  } else if (auto* f = std::get_if<proto::Fatal>(&*msg)) {
    last_error_ = fmt::format("the relay refused the session ({}): {}", f->code, f->message);
    if (f->code == "auth") {
      auth_refused_ = true;
      last_error_ += " — check --token / PORTHOLE_TOKEN";
    }
    spdlog::error("relay {}: {}", cfg_.relay, last_error_);
  }
}

net::Task<Result<std::shared_ptr<session::MuxStream>>> Connector::open(std::string name,
                                                                       std::chrono::milliseconds timeout,
                                                                       std::string target, std::string transport) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer wake(io_, deadline);
  wake.async_wait([this](const net::error_code& ec) {
    if (!ec) changed_.notify();
  });
  while (!connected()) {
    if (stopping_) co_return make_error(Errc::shutdown, "porthole connect is stopping");
    if (std::chrono::steady_clock::now() >= deadline) {
      co_return make_error(Errc::timed_out, "no session to relay {} within {} ms{}{}", cfg_.relay, timeout.count(),
                           last_error_.empty() ? "" : ": ", last_error_);
    }
    co_await changed_.wait();
  }
  proto::OpenMeta meta{std::move(name), "", "connect"};
  meta.target = std::move(target);
  meta.transport = std::move(transport);
  co_return session_->open_stream(proto::encode(meta));
}

}  // namespace porthole::agent
