#include "relay/http_exchange.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "net/prefixed_stream.hpp"
#include "net/pump.hpp"
#include "net/signal.hpp"
#include "net/watchdog.hpp"
#include "proto/messages.hpp"
#include "session/session.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace http1 = proto::http1;

namespace {

metrics::Counter& exchanges() {
  static auto& c = metrics::counter("porthole_relay_http_requests_total", "HTTP requests forwarded to agents");
  return c;
}

// The request body going up while the response comes down (an origin may answer early, and
// `Expect: 100-continue` needs the interim response before the body).
struct Upload {
  explicit Upload(const net::Executor& ex) : finished(ex) {}
  bool done = false;
  bool bad_framing = false;
  std::string error;  // empty: the whole body went up
  net::Signal finished;
};

// The head goes with the first body bytes, the FIN with the last.
net::Task<void> upload(net::MessageReader& reader, http1::BodyFramer& framer, session::MuxStream& stream,
                       std::span<const std::uint8_t> head, net::Watchdog& stall, std::chrono::seconds body_timeout,
                       Upload& up) {
  auto rearm = [&] { stall.arm(body_timeout, [&reader] { reader.stream().abort("request body stalled"); }); };
  rearm();
  auto r = co_await reader.copy_body(framer, stream, rearm, head, true);
  stall.disarm();
  if (!r) {
    up.error = r.error().message;
    up.bad_framing = r.error().code == Errc::protocol;
    stream.abort(up.error);
  }
  up.done = true;
  up.finished.notify();
}

}  // namespace

net::Task<bool> answer(net::ByteStream& visitor, HttpFailure f, std::string_view detail, bool html, int status,
                       bool close) {
  count_failure(f);
  const auto page = failure_response(f, detail, html, status, close);
  auto w = co_await visitor.write(net::bytes_of(page));
  co_return w.ok();
}

net::Task<ExchangeResult> forward_exchange(Pick& pick, net::ByteStream& visitor, net::MessageReader& reader,
                                           http1::RequestHead& head, const std::string& visitor_addr,
                                           const ExchangeOptions& o) {
  ExchangeResult res;
  const bool html = http1::accepts_html(head);
  const std::string method = head.method;
  const bool upgrade = head.upgrade;
  const bool visitor_keep = head.keep_alive;
  const int visitor_minor = head.minor;
  const auto local = pick.local().empty() ? std::string("the local service") : pick.local();
  auto opened = pick.session().open_stream(proto::encode(proto::OpenMeta{pick.tunnel(), visitor_addr, "http", o.visitor_dest}));
  if (!opened) {
    co_await answer(visitor, HttpFailure::agent_offline, "the agent serving this tunnel went away", html);
    co_return res;
  }
  auto stream = std::move(*opened);
  exchanges().inc();
  auto ex = co_await asio::this_coro::executor;
  const auto head_bytes = http1::serialize(head);
  Upload up(ex);
  net::Watchdog upload_stall(ex);
  http1::BodyFramer req_framer(head.body, head.content_length);
  if (head.body == http1::BodyKind::none) {
    // One frame: OPEN rides with it, and the FIN with the head (unless an upgrade may follow).
    Result<void> w1;
    if (upgrade) {
      w1 = co_await stream->write(net::bytes_of(head_bytes));
    } else {
      w1 = co_await stream->write_last(net::bytes_of(head_bytes));
    }
    if (!w1) {
      co_await answer(visitor, HttpFailure::upstream_failed, "the agent serving this tunnel went away", html);
      co_return res;
    }
    up.done = true;
  } else {
    asio::co_spawn(ex, upload(reader, req_framer, *stream, net::bytes_of(head_bytes), upload_stall, o.body_timeout, up),
                   asio::detached);
  }
  // Every way out waits for the upload: it uses this frame's reader, framer and stream.
  auto finish_upload = [&]() -> net::Task<void> {
    while (!up.done) co_await up.finished.wait();
  };

  net::MessageReader upstream(*stream);
  net::Watchdog dog(ex);
  bool timed_out = false;
  http1::ResponseHead rh;
  for (;;) {
    dog.arm(o.upstream_timeout, [&] {
      timed_out = true;
      stream->abort("upstream timeout");
    });
    auto r = co_await upstream.read_response(method, http1::Limits{});
    dog.disarm();
    if (r.status != net::HeadStatus::ok) {
      // Named values, not temporaries, in co_await arguments (see http_listener.cpp).
      HttpFailure failure = HttpFailure::upstream_failed;
      std::string detail;
      if (up.bad_framing) {
        failure = HttpFailure::bad_request;
        detail = up.error;
      } else if (timed_out) {
        failure = HttpFailure::upstream_timeout;
        detail = fmt::format("{} did not start its response within {}s", local, o.upstream_timeout.count());
      } else if (r.status == net::HeadStatus::bad ||
                 (r.status == net::HeadStatus::failed && r.failed.code == Errc::protocol)) {
        failure = HttpFailure::bad_response;
        // The agent's reason already names the address ("127.0.0.1:3000: invalid HTTP version").
        detail = r.status == net::HeadStatus::bad ? fmt::format("{} sent a malformed response: {}", local, r.bad.message)
                                                  : fmt::format("malformed response from {}", r.failed.message);
      } else {
        const auto why = r.status == net::HeadStatus::eof ? std::string("the agent ended the exchange without a response")
                                                          : r.failed.message;
        detail = fmt::format("failed to complete tunnel connection: the agent could not reach {}: {}", local, why);
      }
      // The visitor connection stays usable when its request was read whole; else it closes
      // (announced), as its request may be half read.
      const bool keep = visitor_keep && up.done && up.error.empty() && failure != HttpFailure::bad_request &&
                        failure != HttpFailure::bad_response;
      co_await answer(visitor, failure, detail, html, 0, !keep);
      stream->abort("exchange failed");
      if (!up.done) visitor.shutdown_write();  // the visitor stops sending once it has the answer
      co_await finish_upload();
      res.keep_alive = keep;
      co_return res;
    }
    rh = std::move(r.head);
    if (rh.status == 101 && upgrade) {
      http1::prepare_response(rh);
      auto w2 = co_await visitor.write(net::bytes_of(http1::serialize(rh)));
      if (!w2) co_return res;
      net::PrefixedStream a(reader.stream(), reader.buffered());  // the read side (PROXY step replays)
      net::PrefixedStream b(*stream, upstream.buffered());
      co_await net::pump(a, b);
      co_return res;
    }
    if (rh.status >= 200 || rh.status == 101) break;
    http1::prepare_response(rh);  // 1xx interim (100 Continue, 103 Early Hints): pass it on
    auto w3 = co_await visitor.write(net::bytes_of(http1::serialize(rh)));
    if (!w3) {
      stream->abort("visitor gone");
      co_await finish_upload();
      co_return res;
    }
  }
  if (rh.status == 101) {  // switching protocols without having asked: a broken origin
    std::string detail = fmt::format("{} switched protocols unasked", local);
    co_await answer(visitor, HttpFailure::bad_response, detail, html);
    stream->abort("unasked 101");
    co_await finish_upload();
    co_return res;
  }
  if (upgrade && up.done) stream->shutdown_write();  // not upgraded: the request is complete

  http1::prepare_response(rh);
  if (o.on_response) o.on_response(rh);
  rh.minor = 1;  // the relay speaks HTTP/1.1 to visitors, whatever the origin speaks
  if (!o.hsts.empty()) rh.fields.set("Strict-Transport-Security", o.hsts);
  bool keep = visitor_keep && rh.body != http1::BodyKind::until_close;
  if (!keep) {
    rh.fields.set("Connection", "close");
  } else if (visitor_minor == 0) {
    rh.fields.set("Connection", "keep-alive");
  }
  const auto resp_head = http1::serialize(rh);  // goes out with the first body bytes
  http1::BodyFramer resp_framer(rh.body, rh.content_length);
  net::Watchdog stall(ex);
  auto rearm = [&] { stall.arm(o.body_timeout, [&] { stream->abort("response body stalled"); }); };
  rearm();
  auto body = co_await upstream.copy_body(resp_framer, visitor, rearm, net::bytes_of(resp_head));
  stall.disarm();
  if (!body) {
    spdlog::debug("http {}: response body from {} failed: {}", visitor_addr, local, body.error().message);
    stream->abort("response failed");
    visitor.abort("response failed");  // the visitor must not take a cut body for a whole one
    co_await finish_upload();
    co_return res;
  }
  if (!up.done) {
    if (keep) {
      co_await finish_upload();  // the visitor's next request starts after this body
    } else {
      stream->abort("response complete");
      co_await finish_upload();
    }
  }
  res.keep_alive = keep && up.error.empty();
  co_return res;
}

}  // namespace porthole::relay
