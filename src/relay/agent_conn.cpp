#include "relay/agent_conn.hpp"

#include <spdlog/spdlog.h>

#include "core/encoding.hpp"
#include "core/metrics.hpp"
#include "net/tcp_stream.hpp"
#include "proto/auth.hpp"
#include "relay/connect_join.hpp"
#include "relay/relay.hpp"
#include "relay/relay_exit.hpp"

namespace porthole::relay {

namespace asio = net::asio;

namespace {
metrics::Counter& auth_failures() {
  static auto& c = metrics::counter("porthole_relay_auth_failures_total", "Agents refused: unknown or bad token");
  return c;
}
metrics::Counter& control_errors() {
  static auto& c = metrics::counter("porthole_relay_control_errors_total", "Malformed or unexpected control messages");
  return c;
}
metrics::Counter& auth_timeouts() {
  static auto& c = metrics::counter("porthole_relay_handshake_failures_total{reason=\"no_hello\"}",
                                    "Agent handshakes that failed");
  return c;
}
}  // namespace

AgentConn::AgentConn(Relay& relay, std::shared_ptr<session::Session> session,
                     std::vector<std::uint8_t> channel_binding, std::string address)
    : relay_(relay), session_(std::move(session)), binding_(std::move(channel_binding)), address_(std::move(address)) {}

void AgentConn::start(std::chrono::seconds auth_timeout, std::function<void()> on_settled) {
  on_settled_ = std::move(on_settled);
  std::weak_ptr<AgentConn> weak = shared_from_this();
  session::SessionCallbacks cb;
  cb.on_control = [weak](std::string_view m) {
    if (auto self = weak.lock()) self->on_control(m);
  };
  cb.on_open = [weak](std::shared_ptr<session::MuxStream> stream, std::string_view metadata) {
    if (auto self = weak.lock()) return self->on_stream(std::move(stream), metadata);
    stream->reset(make_error(Errc::shutdown, "the relay is closing this session"));
  };
  cb.on_close = [weak](std::string_view reason) {
    if (auto self = weak.lock()) {
      self->settle();
      if (self->authenticated_) {
        spdlog::info("{} {} ({}) disconnected: {}", self->role_ == "connect" ? "connect client" : "agent", self->name_,
                     self->address_, reason);
      }
      self->relay_.on_closed(*self);
    }
  };
  session_->set_callbacks(std::move(cb));
  session_->start();
  asio::co_spawn(
      session_->transport().socket().get_executor(),
      [weak, auth_timeout]() -> net::Task<void> {
        asio::steady_timer t(co_await asio::this_coro::executor, auth_timeout);
        co_await t.async_wait(net::use_nothrow);
        auto self = weak.lock();
        if (self && !self->authenticated_ && !self->session_->closed()) {
          auth_timeouts().inc();
          self->session_->close("no hello within the handshake deadline");
        }
      },
      asio::detached);
}

void AgentConn::settle() {
  if (auto f = std::move(on_settled_)) {
    on_settled_ = nullptr;
    f();
  }
}

void AgentConn::fail(std::string_view code, std::string_view message) {
  failed_ = true;
  session_->send_control(proto::encode(proto::Fatal{std::string(code), std::string(message)}));
  session_->close_after_flush(message);
}

void AgentConn::on_control(std::string_view message) {
  if (failed_) return;
  auto msg = proto::decode_control(message);
  if (!msg) {
    control_errors().inc();
    spdlog::warn("agent {}: {}", address_, msg.error().message);
    return fail("protocol", msg.error().message);
  }
  if (!authenticated_) {
    if (auto* hello = std::get_if<proto::Hello>(&*msg)) return on_hello(*hello);
    control_errors().inc();
    return fail("protocol", "the first message must be hello");
  }
  if (auto* bind = std::get_if<proto::Bind>(&*msg)) return on_bind(*bind);
  if (auto* unbind = std::get_if<proto::Unbind>(&*msg)) {
    relay_.unbind(*this, unbind->tunnel);
    return;
  }
  if (auto* probe = std::get_if<proto::Probe>(&*msg)) return on_probe(*probe);
  if (auto* health = std::get_if<proto::Health>(&*msg)) return relay_.set_health(*this, *health);
  control_errors().inc();
  fail("protocol", "unexpected control message");
}

void AgentConn::on_hello(const proto::Hello& hello) {
  if (hello.version != proto::kProtocolVersion) {
    return fail("version", fmt::format("protocol version {} is not supported (relay speaks {})", hello.version,
                                       proto::kProtocolVersion));
  }
  auto token = relay_.store().find_token(hello.token_id);
  auto proof = encoding::hex_decode(hello.proof);
  if (!token || !proof || !proto::verify_proof(token->key, binding_, *proof)) {
    auth_failures().inc();
    spdlog::warn("agent {} ({}): authentication failed for token id {}", hello.agent, address_, hello.token_id);
    relay_.store().audit("auth_failed", fmt::format("{} token_id={}", address_, hello.token_id));
    return fail("auth", "the relay does not accept this token (unknown, revoked, or wrong secret)");
  }
  authenticated_ = true;
  token_ = *token;
  name_ = hello.agent.empty() ? address_ : hello.agent;
  relay_host_ = hello.relay_host;
  role_ = hello.role;
  session_->send_control(proto::encode(proto::Welcome{session_->id(), "0.1.0", address_}));
  spdlog::info("{} {} connected from {} (token {}, session {})", role_ == "connect" ? "connect client" : "agent", name_,
               address_, token_.name, session_->id());
  relay_.store().audit("agent_connected", fmt::format("{} from {} token={}", name_, address_, token_.name));
  settle();
}

void AgentConn::on_bind(const proto::Bind& bind) {
  auto url = relay_.bind(shared_from_this(), bind);
  if (!url) {
    spdlog::warn("agent {}: tunnel {} refused: {}", name_, bind.tunnel, url.error().message);
    session_->send_control(proto::encode(proto::BindError{bind.tunnel, url.error().message}));
    return;
  }
  tunnels_.insert(bind.tunnel);
  session_->send_control(proto::encode(proto::Bound{bind.tunnel, *url}));
}

// The peer opened a stream: `porthole connect` asking for a private endpoint. Frames are
// handled in order, so a stream opened right after hello (zero round trips) finds the session
// authenticated.
void AgentConn::on_stream(std::shared_ptr<session::MuxStream> stream, std::string_view metadata) {
  if (failed_) return stream->reset(make_error(Errc::forbidden, "the relay refused this session (see its fatal message)"));
  if (!authenticated_) return stream->reset(make_error(Errc::protocol, "no stream may be opened before hello"));
  auto meta = proto::decode_open(metadata);
  if (!meta) {
    control_errors().inc();
    return stream->reset(Error{meta.error().message, Errc::protocol});
  }
  if (meta->kind != "connect") {
    control_errors().inc();
    return stream->reset(make_error(Errc::protocol, "the relay accepts only \"connect\" streams, not '{}'", meta->kind));
  }
  auto client = fmt::format("{} ({})", name_, address_);
  if (meta->tunnel == kRelayExitName && (!meta->target.empty() || meta->transport == "udp")) {  // --via relay
    return join_relay_exit(relay_.config(), token_, client, std::move(stream), meta->target, meta->transport);
  }
  join_connect(relay_.registry(), relay_.store(), token_, client, std::move(stream), meta->tunnel, meta->target,
               meta->transport);
}

void AgentConn::on_probe(const proto::Probe& probe) {
  std::weak_ptr<AgentConn> weak = shared_from_this();
  auto host = address_.substr(0, address_.rfind(':'));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  asio::co_spawn(
      session_->transport().socket().get_executor(),
      [weak, host, port = probe.port]() -> net::Task<void> {
        auto sock = co_await net::dial(host, port, std::chrono::seconds(3));
        auto self = weak.lock();
        if (!self) co_return;
        proto::ProbeResult r{host, sock.ok(), sock ? "connected" : sock.error().message};
        self->session_->send_control(proto::encode(r));
      },
      asio::detached);
}

}  // namespace porthole::relay
