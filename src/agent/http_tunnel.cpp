// http tunnels: each stream from the relay carries one HTTP exchange (the relay already checked
// and prepared the request). The agent forwards it to the local service over a kept-alive
// connection from the tunnel's pool and streams the response back; after a 101 both sides are
// joined raw. A pooled connection that fails before any response byte is retried once on a new
// one when the request has no body (the service may have closed it while idle). With
// --upstream https the pool's connections are TLS sessions; this file sees only ByteStreams.
// With the inspector on, each exchange is captured on the way (heads, bodies up to the
// capture limit through a TeeStream) and handed to the Recorder when it ends; a replay from
// the agent API comes through the same code with an in-memory stream for the relay's side.
#include <spdlog/spdlog.h>

#include "agent/http_serve.hpp"
#include "agent/upstream_proxy.hpp"
#include "inspect/recorder.hpp"
#include "inspect/ws_tap.hpp"
#include "net/http_io.hpp"
#include "net/prefixed_stream.hpp"
#include "net/pump.hpp"
#include "net/signal.hpp"
#include "net/watchdog.hpp"

namespace porthole::agent {

namespace asio = net::asio;
namespace http1 = proto::http1;

namespace {

constexpr auto kResponseTimeout = std::chrono::seconds(300);  // the relay's own deadline is shorter
constexpr auto kStallTimeout = std::chrono::seconds(300);

// Forwards everything to `inner` and keeps the first `limit` body bytes written (after `skip`
// bytes of head that go out with them) in `m`, counting the rest. With no `m` it only forwards.
class TeeStream final : public net::ByteStream {
 public:
  TeeStream(net::ByteStream& inner, inspect::Message* m, std::size_t limit, std::size_t skip = 0)
      : inner_(inner), m_(m), limit_(limit), skip_(skip) {}
  net::Task<Result<net::Chunk>> read() override { return inner_.read(); }
  net::Task<Result<void>> write(std::span<const std::uint8_t> b) override {
    keep(b);
    return inner_.write(b);
  }
  net::Task<Result<void>> write_last(std::span<const std::uint8_t> b) override {
    keep(b);
    return inner_.write_last(b);
  }
  void shutdown_write() override { inner_.shutdown_write(); }
  void abort(std::string_view reason) override { inner_.abort(reason); }

 private:
  void keep(std::span<const std::uint8_t> b) {
    if (m_ == nullptr) return;
    const auto skipped = std::min(skip_, b.size());
    skip_ -= skipped;
    b = b.subspan(skipped);
    m_->body_size += b.size();
    const auto room = limit_ > m_->body.size() ? limit_ - m_->body.size() : 0;
    const auto n = std::min(room, b.size());
    m_->body.append(reinterpret_cast<const char*>(b.data()), n);
  }
  net::ByteStream& inner_;
  inspect::Message* m_;
  std::size_t limit_;
  std::size_t skip_;
};

// The IP of a HOST:PORT / [v6]:PORT visitor address (ngrok's remote_addr has no port).
std::string ip_of(std::string_view addr) {
  const auto colon = addr.rfind(':');
  if (colon != std::string_view::npos && addr.find(':') == colon) addr = addr.substr(0, colon);  // v4:port
  if (addr.size() > 2 && addr.front() == '[') {
    const auto close = addr.find(']');
    if (close != std::string_view::npos) addr = addr.substr(1, close - 1);
  }
  return std::string(addr);
}

// The visitor's address as the relay vouches for it: the last X-Forwarded-For element.
std::string visitor_of(const http1::RequestHead& head) {
  const auto* xff = head.fields.get("X-Forwarded-For");
  if (xff == nullptr) return {};
  std::string_view v = *xff;
  if (auto comma = v.rfind(','); comma != std::string_view::npos) v.remove_prefix(comma + 1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  return std::string(v);
}

struct Upload {
  explicit Upload(const net::Executor& ex) : finished(ex) {}
  bool done = false;
  bool ok = true;
  net::Signal finished;
};

// One attempt on one local connection. Returns false (and leaves the stream untouched) only
// when the connection failed before any response byte, so a retry is safe.
struct Attempt {
  bool retryable = false;      // failed before anything reached the relay
  bool reusable = false;       // the connection can go back to the pool
  bool complete = false;       // the whole response went to the relay (and our FIN, with shape.fin)
  bool responded = false;      // a response head went out
  bool request_whole = false;  // the request body was read whole (the next request can follow)
  bool framed = false;         // the final response was framed (not delimited by the close)
};

// A capture on its way: the exchange being filled, and for a WebSocket upgrade the copy shown
// (and filled with messages) while the connection lives.
struct Capture {
  inspect::Recorder* rec = nullptr;
  inspect::Exchange* cap = nullptr;
  std::size_t limit = 0;
  std::chrono::steady_clock::time_point started;
  inspect::ExchangePtr live;
};

net::Task<Attempt> exchange(net::ByteStream& stream, const ResetFn& reset, net::MessageReader& rd,
                            http1::RequestHead& head, net::ByteStream& local, const std::string& head_bytes,
                            const std::string& name, Capture& capture, const ExchangeShape& shape) {
  auto* const cap = capture.cap;
  const auto limit = capture.limit;
  Attempt a;
  auto ex = co_await asio::this_coro::executor;
  if (cap != nullptr) {  // a retry starts the capture of the response again
    cap->has_response = false;
    cap->response = {};
    cap->error.clear();
  }
  auto w = co_await local.write(net::bytes_of(head_bytes));
  if (!w) {
    a.retryable = head.body == http1::BodyKind::none;
    co_return a;
  }
  Upload up(ex);
  TeeStream upload_tee(local, cap != nullptr ? &cap->request : nullptr, limit);
  http1::BodyFramer framer(head.body, head.content_length);
  if (head.body == http1::BodyKind::none) {
    up.done = true;
  } else {
    asio::co_spawn(
        ex,
        [&]() -> net::Task<void> {
          auto r = co_await rd.copy_body(framer, upload_tee);
          if (!r) {
            up.ok = false;
            local.abort(r.error().message);
          }
          up.done = true;
          up.finished.notify();
        },
        asio::detached);
  }
  net::MessageReader lr(local);
  net::Watchdog dog(ex);
  bool wrote = false;
  http1::ResponseHead rh;
  for (;;) {
    dog.arm(kResponseTimeout, [&local] { local.abort("no response"); });
    auto r = co_await lr.read_response(head.method, http1::Limits{});
    dog.disarm();
    if (r.status != net::HeadStatus::ok) {
      if (!wrote && r.status != net::HeadStatus::bad && up.done && up.ok && head.body == http1::BodyKind::none) {
        a.retryable = true;
        co_return a;
      }
      const auto why = r.status == net::HeadStatus::bad ? r.bad.message
                       : r.status == net::HeadStatus::eof ? std::string("the connection closed without a response")
                                                          : r.failed.message;
      spdlog::warn("local service {}: {}", name, why);
      // A malformed response is the origin's fault (the relay answers 502 bad_response);
      // anything else means the service could not be reached or went away.
      const auto code = r.status == net::HeadStatus::bad ? Errc::protocol : Errc::refused;
      if (cap != nullptr) cap->error = why;
      reset(make_error(code, "{}: {}", name, why));
      while (!up.done) co_await up.finished.wait();
      co_return a;
    }
    rh = std::move(r.head);
    wrote = true;
    a.responded = true;
    if (rh.status >= 200) break;  // the final head goes with the body (below)
    if (shape.on_head) shape.on_head(rh);
    const auto interim = http1::serialize(rh);
    auto hw = co_await stream.write(net::bytes_of(interim));
    if (!hw) break;
    if (rh.status == 101 && head.upgrade) {
      if (cap != nullptr) {
        cap->has_response = true;
        cap->status = 101;
        cap->reason = rh.reason;
        cap->response.head = interim;
        cap->response.headers = rh.fields.list;
        cap->upgraded = true;
        if (capture.rec != nullptr && inspect::is_websocket_upgrade(head.fields)) {
          // Shown at once (the list gets it now, not when the connection ends), its messages
          // added as they pass.
          cap->ws = std::make_shared<inspect::WsLog>();
          cap->ws->release = capture.rec->ws_releaser();
          cap->duration = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                               capture.started);
          cap->id = capture.rec->next_id();
          capture.live = std::make_shared<const inspect::Exchange>(*cap);
          capture.rec->offer(capture.live);
        }
      }
      net::PrefixedStream from_relay(stream, rd.buffered());
      net::PrefixedStream from_local(local, lr.buffered());
      if (capture.live) {
        inspect::WsTap visitor(from_relay, *capture.rec, capture.live->ws, true);
        inspect::WsTap service(from_local, *capture.rec, capture.live->ws, false);
        co_await net::pump(visitor, service);
      } else {
        co_await net::pump(from_relay, from_local);
      }
      co_return a;
    }
  }
  if (rh.status < 200 || rh.status == 101) {  // the relay went away mid-exchange
    if (cap != nullptr && cap->error.empty()) cap->error = "the visitor went away";
    local.abort("relay gone");
    while (!up.done) co_await up.finished.wait();
    co_return a;
  }
  http1::BodyFramer resp(rh.body, rh.content_length);
  net::Watchdog stall(ex);
  auto rearm = [&] { stall.arm(kStallTimeout, [&local] { local.abort("response body stalled"); }); };
  rearm();
  // Head, body and FIN: one frame for a small response.
  a.framed = rh.body != http1::BodyKind::until_close;
  if (shape.on_head) shape.on_head(rh);
  const auto resp_head = http1::serialize(rh);
  if (cap != nullptr) {
    cap->has_response = true;
    cap->status = rh.status;
    cap->reason = rh.reason;
    cap->response.head = resp_head;
    cap->response.headers = rh.fields.list;
    cap->response.chunked = rh.body == http1::BodyKind::chunked;
  }
  TeeStream down(stream, cap != nullptr ? &cap->response : nullptr, limit, resp_head.size());
  auto body = co_await lr.copy_body(resp, down, rearm, net::bytes_of(resp_head), shape.fin);
  stall.disarm();
  if (!body) {
    if (cap != nullptr) cap->error = "response body: " + body.error().message;
    // A malformed body is the origin's fault (protocol: the relay closes the visitor connection).
    const auto code = body.error().code == Errc::protocol ? Errc::protocol : Errc::refused;
    reset(make_error(code, "response body: {}", body.error().message));
    local.abort("response failed");
  } else {
    a.complete = true;
  }
  if (!up.done) local.abort("response complete before the request body");
  while (!up.done) co_await up.finished.wait();
  a.request_whole = up.ok;
  a.reusable = body.ok() && up.ok && rh.keep_alive && rh.body != http1::BodyKind::until_close && lr.buffered().empty();
  co_return a;
}

}  // namespace

net::Task<ForwardResult> forward_exchange(net::ByteStream& stream, const ResetFn& reset, net::MessageReader& rd,
                                          http1::RequestHead& head, TunnelState& t, const proto::OpenMeta& meta,
                                          inspect::Exchange* capp, std::size_t limit, const ExchangeShape& shape) {
  ForwardResult out;
  const auto head_bytes = http1::serialize(head);
  if (!t.pool) {
    const LocalPool::Upstream upstream{.tls = t.config.upstream == "https", .insecure = t.config.upstream_insecure};
    t.pool = std::make_shared<LocalPool>(t.config.local, upstream);
  }
  auto pool = t.pool;
  // --upstream-proxy-protocol: local connections are tagged with the visitor's header and reused
  // only for requests of that same visitor (docs/proxy-protocol.md).
  const auto preamble = upstream_proxy_header(t.config.upstream_proxy_protocol, meta);
  const auto name = format_host_port(t.config.local);
  Capture capture{t.recorder.get(), capp, limit, std::chrono::steady_clock::now(), nullptr};
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    auto conn = co_await pool->acquire(reused, preamble);
    if (!conn) {
      count_dial_failure();
      spdlog::warn("tunnel {}: {}", t.config.name, conn.error().message);
      if (capp != nullptr) capp->error = conn.error().message;
      reset(conn.error());
      break;
    }
    auto a = co_await exchange(stream, reset, rd, head, **conn, head_bytes, name, capture, shape);
    if (a.reusable) pool->release(std::move(*conn), preamble);
    out.complete = a.complete;
    out.responded = a.responded;
    out.keep = a.complete && a.request_whole && a.framed;
    if (a.complete && shape.fin) {
      // Wait for the relay's end of the request (it may come after our response, e.g. for an
      // upgrade the service refused): dropping the stream before would reset it, and a reset
      // discards the response the relay has not read yet.
      for (;;) {
        auto rest = co_await stream.read();
        if (!rest || rest->empty()) break;
      }
    }
    if (!(a.retryable && reused)) {
      if (a.retryable) {
        if (capp != nullptr) capp->error = "the connection closed without a response";
        reset(make_error(Errc::refused, "{}: the connection closed without a response", name));
        out.responded = false;
      }
      break;
    }
  }
  if (capture.live) {  // an upgraded connection ended: its messages are final
    {
      std::lock_guard lock(capture.live->ws->mu);
      capture.live->ws->closed = true;
    }
    t.recorder->ws_closed(capture.live);
  }
  co_return out;
}

std::optional<inspect::Exchange> begin_capture(const TunnelState& t, const http1::RequestHead& head,
                                               const proto::OpenMeta& meta, std::string_view replay_of) {
  std::optional<inspect::Exchange> cap;
  if (!t.recorder) return cap;
  cap.emplace();
  cap->tunnel = t.config.name;
  cap->start = std::chrono::system_clock::now();
  cap->method = head.method;
  cap->uri = head.target;
  cap->minor = head.minor;
  cap->remote_addr = meta.visitor.empty() ? visitor_of(head) : ip_of(meta.visitor);
  cap->request.head = http1::serialize(head);
  cap->request.headers = head.fields.list;
  cap->request.chunked = head.body == http1::BodyKind::chunked;
  cap->replay_of = replay_of;
  return cap;
}

void end_exchange(TunnelState& t, std::optional<inspect::Exchange>& cap, std::chrono::steady_clock::time_point started) {
  const auto now = std::chrono::steady_clock::now();
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(now - started);
  t.stats.http.record(now, took);
  // A WebSocket capture (ws set) went into the list at its 101 already.
  if (cap && t.recorder && !cap->ws) {
    cap->duration = took;
    cap->id = t.recorder->next_id();
    t.recorder->offer(std::move(*cap));
  }
  cap.reset();
}

std::size_t capture_limit(const TunnelState& t) { return t.recorder ? t.recorder->limits().body : 0; }

void apply_host_header(http1::RequestHead& head, const config::TunnelConfig& c) {
  if (c.host_header == "preserve" || c.host_header.empty()) return;
  // A unix socket has no host:port of its own: "rewrite" sends "localhost" there.
  const auto local = is_unix_address(c.local) ? std::string("localhost") : format_host_port(c.local);
  head.fields.set("Host", c.host_header == "rewrite" ? local : c.host_header);
}

net::Task<void> serve_http_on(net::ByteStream& stream, const ResetFn& reset, TunnelState& t,
                              const proto::OpenMeta& meta, std::string_view replay_of) {
  const auto started = std::chrono::steady_clock::now();
  net::MessageReader rd(stream);
  auto r = co_await rd.read_request(http1::Limits{});
  if (r.status != net::HeadStatus::ok) {
    if (r.status == net::HeadStatus::bad) reset(make_error(Errc::protocol, "bad request: {}", r.bad.message));
    co_return;
  }
  auto& head = r.head;
  // The capture holds the request as the relay sent it (before a Host rewrite for the service).
  auto cap = begin_capture(t, head, meta, replay_of);
  apply_host_header(head, t.config);
  // Named values, not temporaries, in co_await arguments (GCC 12).
  inspect::Exchange* capp = cap ? &*cap : nullptr;
  const std::size_t limit = capture_limit(t);
  const ExchangeShape shape;
  co_await forward_exchange(stream, reset, rd, head, t, meta, capp, limit, shape);
  end_exchange(t, cap, started);
}

net::Task<void> serve_http(std::shared_ptr<session::MuxStream> stream, TunnelState& t, proto::OpenMeta meta) {
  if (t.config.terminate_at == "agent" && meta.kind != "http") {
    co_await serve_https_at_agent(std::move(stream), t, std::move(meta));  // a visitor's TLS, passed through
    co_return;
  }
  ++t.connections_total;
  ++t.connections_open;
  const ResetFn reset = [s = stream](Error e) { s->reset(std::move(e)); };
  const std::string_view no_replay;
  co_await serve_http_on(*stream, reset, t, meta, no_replay);
  --t.connections_open;
}

}  // namespace porthole::agent
