// http tunnels: each stream from the relay carries one HTTP exchange (the relay already checked
// and prepared the request). The agent forwards it to the local service over a kept-alive
// connection from the tunnel's pool and streams the response back; after a 101 both sides are
// joined raw. A pooled connection that fails before any response byte is retried once on a new
// one when the request has no body (the service may have closed it while idle). With
// --upstream https the pool's connections are TLS sessions; this file sees only ByteStreams.
#include <spdlog/spdlog.h>

#include "agent/tunnel.hpp"
#include "agent/upstream_proxy.hpp"
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

void apply_host_header(http1::RequestHead& head, const config::TunnelConfig& c) {
  if (c.host_header == "preserve" || c.host_header.empty()) return;
  head.fields.set("Host", c.host_header == "rewrite" ? format_host_port(c.local) : c.host_header);
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
  bool retryable = false;  // failed before anything reached the relay
  bool reusable = false;   // the connection can go back to the pool
  bool complete = false;   // the whole response went to the relay (and our FIN)
};

net::Task<Attempt> exchange(session::MuxStream& stream, net::MessageReader& rd, http1::RequestHead& head,
                            net::ByteStream& local, const std::string& head_bytes, const std::string& name) {
  Attempt a;
  auto ex = co_await asio::this_coro::executor;
  auto w = co_await local.write(net::bytes_of(head_bytes));
  if (!w) {
    a.retryable = head.body == http1::BodyKind::none;
    co_return a;
  }
  Upload up(ex);
  http1::BodyFramer framer(head.body, head.content_length);
  if (head.body == http1::BodyKind::none) {
    up.done = true;
  } else {
    asio::co_spawn(
        ex,
        [&]() -> net::Task<void> {
          auto r = co_await rd.copy_body(framer, local);
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
      stream.reset(make_error(code, "{}: {}", name, why));
      while (!up.done) co_await up.finished.wait();
      co_return a;
    }
    rh = std::move(r.head);
    wrote = true;
    if (rh.status >= 200) break;  // the final head goes with the body (below)
    auto hw = co_await stream.write(net::bytes_of(http1::serialize(rh)));
    if (!hw) break;
    if (rh.status == 101 && head.upgrade) {
      net::PrefixedStream from_relay(stream, rd.buffered());
      net::PrefixedStream from_local(local, lr.buffered());
      co_await net::pump(from_relay, from_local);
      co_return a;
    }
  }
  if (rh.status < 200 || rh.status == 101) {  // the relay went away mid-exchange
    local.abort("relay gone");
    while (!up.done) co_await up.finished.wait();
    co_return a;
  }
  http1::BodyFramer resp(rh.body, rh.content_length);
  net::Watchdog stall(ex);
  auto rearm = [&] { stall.arm(kStallTimeout, [&local] { local.abort("response body stalled"); }); };
  rearm();
  // Head, body and FIN: one frame for a small response.
  const auto resp_head = http1::serialize(rh);
  auto body = co_await lr.copy_body(resp, stream, rearm, net::bytes_of(resp_head), true);
  stall.disarm();
  if (!body) {
    // A malformed body is the origin's fault (protocol: the relay closes the visitor connection).
    const auto code = body.error().code == Errc::protocol ? Errc::protocol : Errc::refused;
    stream.reset(make_error(code, "response body: {}", body.error().message));
    local.abort("response failed");
  } else {
    a.complete = true;
  }
  if (!up.done) local.abort("response complete before the request body");
  while (!up.done) co_await up.finished.wait();
  a.reusable = body.ok() && up.ok && rh.keep_alive && rh.body != http1::BodyKind::until_close && lr.buffered().empty();
  co_return a;
}

}  // namespace

net::Task<void> serve_http(std::shared_ptr<session::MuxStream> stream, TunnelState& t, proto::OpenMeta meta) {
  net::MessageReader rd(*stream);
  auto r = co_await rd.read_request(http1::Limits{});
  if (r.status != net::HeadStatus::ok) {
    if (r.status == net::HeadStatus::bad) stream->reset(make_error(Errc::protocol, "bad request: {}", r.bad.message));
    co_return;
  }
  auto& head = r.head;
  apply_host_header(head, t.config);
  const auto head_bytes = http1::serialize(head);
  if (!t.pool) {
    const LocalPool::Upstream upstream{.tls = t.config.upstream == "https", .insecure = t.config.upstream_insecure};
    t.pool = std::make_shared<LocalPool>(t.config.local, upstream);
  }
  auto pool = t.pool;
  // --upstream-proxy-protocol: local connections are tagged with the visitor's header and reused
  // only for requests of that same visitor (docs/proxy-protocol.md).
  const auto preamble = upstream_proxy_header(t.config.upstream_proxy_protocol, meta);
  ++t.connections_total;
  ++t.connections_open;
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = false;
    auto conn = co_await pool->acquire(reused, preamble);
    if (!conn) {
      count_dial_failure();
      spdlog::warn("tunnel {}: {}", t.config.name, conn.error().message);
      stream->reset(conn.error());
      break;
    }
    auto a = co_await exchange(*stream, rd, head, **conn, head_bytes, format_host_port(t.config.local));
    if (a.reusable) pool->release(std::move(*conn), preamble);
    if (a.complete) {
      // Wait for the relay's end of the request (it may come after our response, e.g. for an
      // upgrade the service refused): dropping the stream before would reset it, and a reset
      // discards the response the relay has not read yet.
      for (;;) {
        auto rest = co_await stream->read();
        if (!rest || rest->empty()) break;
      }
    }
    if (!(a.retryable && reused)) {
      if (a.retryable) stream->reset(make_error(Errc::refused, "{}: the connection closed without a response",
                                                format_host_port(t.config.local)));
      break;
    }
  }
  --t.connections_open;
}

}  // namespace porthole::agent
