// http tunnels with --terminate-at agent (docs/tls.md): the relay passes the visitor's TLS
// through by SNI, one mux stream per visitor connection with the ClientHello first, and the
// agent terminates it with the certificate and key given to it, which never leave this machine.
// Then the requests on that connection (keep-alive) go to the local service the way the http
// tunnel sends the relay's, through forward_exchange (http_tunnel.cpp). The relay's visitor-side
// work is done here instead, since the relay sees only ciphertext: the request made fit to
// forward (hop-by-hop fields removed, X-Forwarded-For/Proto/Host and Forwarded set from the
// visitor address the relay gave in the OPEN metadata), 421 for a Host other than the SNI,
// responses as HTTP/1.1 with Connection set for the visitor, error pages when the service
// fails. What the relay cannot see it cannot apply: http policy rules (only on_tcp_connect
// applies to such endpoints) and the relay's HSTS/mTLS options.
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <optional>

#include "agent/http_serve.hpp"
#include "agent/tunnel.hpp"
#include "core/metrics.hpp"
#include "net/tls_over_stream.hpp"
#include "net/tls_server.hpp"
#include "net/watchdog.hpp"

namespace porthole::agent {

namespace asio = net::asio;
namespace http1 = proto::http1;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kDrainTimeout = std::chrono::seconds(5);

// The IP of "IP:PORT" / "[v6]:PORT" (what X-Forwarded-For carries).
std::string ip_of(std::string_view addr) {
  if (addr.size() > 2 && addr.front() == '[') {
    const auto close = addr.find(']');
    if (close != std::string_view::npos) return std::string(addr.substr(1, close - 1));
  }
  const auto colon = addr.rfind(':');
  if (colon != std::string_view::npos && addr.find(':') == colon) addr = addr.substr(0, colon);
  return std::string(addr);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

metrics::Counter& tls_failures() {
  static auto& c = metrics::counter("porthole_agent_tls_handshake_failures_total",
                                    "Visitor TLS handshakes that failed at the agent (--terminate-at agent)");
  return c;
}

}  // namespace

Result<void> prepare_tunnel(TunnelState& t) {
  if (t.config.terminate_at != "agent") return {};
  auto chain = net::read_text_file(t.config.tls_cert);
  if (!chain) return make_error("tunnel {}: --cert {}: {}", t.config.name, t.config.tls_cert, chain.error().message);
  auto key = net::read_text_file(t.config.tls_key);
  if (!key) return make_error("tunnel {}: --key {}: {}", t.config.name, t.config.tls_key, key.error().message);
  auto ctx = net::make_https_context(*chain, *key, net::AlpnMode::http11);
  if (!ctx) return make_error("tunnel {}: --cert/--key: {}", t.config.name, ctx.error().message);
  t.edge_tls = std::move(*ctx);
  return {};
}

net::Task<void> serve_https_at_agent(std::shared_ptr<session::MuxStream> stream, TunnelState& t,
                                     proto::OpenMeta meta) {
  if (!t.edge_tls) {
    stream->reset(make_error(Errc::refused, "tunnel {}: no certificate for TLS at the agent", t.config.name));
    co_return;
  }
  ++t.connections_total;
  ++t.connections_open;
  struct Open {
    TunnelState& t;
    ~Open() { --t.connections_open; }
  } open{t};
  auto ex = co_await asio::this_coro::executor;
  net::TlsOverStream tls(stream, t.edge_tls.get(), net::TlsSocket::Side::server, ex);
  auto hs = co_await tls.handshake(kHandshakeTimeout);
  if (!hs) {
    tls_failures().inc();
    spdlog::debug("tunnel {}: TLS from {}: {}", t.config.name, meta.visitor, hs.error().message);
    stream->reset(make_error(Errc::protocol, "{}", hs.error().message));
    co_return;
  }
  const char* sni_c = SSL_get_servername(tls.ssl(), TLSEXT_NAMETYPE_host_name);
  const std::string sni = sni_c != nullptr ? lower(sni_c) : std::string();
  http1::ForwardContext fc;
  fc.client_ip = ip_of(meta.visitor);
  fc.proto = "https";
  net::MessageReader rd(tls);
  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    auto r = co_await rd.read_request(http1::Limits{});
    if (r.status == net::HeadStatus::bad) {
      const auto page = http1::error_response(400, "Bad request", r.bad.message, false, true);
      co_await tls.write(net::bytes_of(page));
      break;
    }
    if (r.status != net::HeadStatus::ok) break;  // the visitor is done (or gone)
    auto& head = r.head;
    const bool html = http1::accepts_html(head);
    if (!sni.empty() && head.host != sni) {
      // RFC 9110 15.5.20: this connection's certificate is for the SNI name only.
      const auto detail = fmt::format("this connection is for {}, not {}", sni, head.host);
      const auto page = http1::error_response(421, "Misdirected request", detail, html, true);
      co_await tls.write(net::bytes_of(page));
      break;
    }
    auto cap = begin_capture(t, head, meta, {});
    http1::prepare_request(head, fc);
    apply_host_header(head, t.config);
    const bool visitor_keep = head.keep_alive;
    const int visitor_minor = head.minor;
    ExchangeShape shape;
    shape.fin = false;
    shape.on_head = [visitor_keep, visitor_minor](http1::ResponseHead& rh) {
      http1::prepare_response(rh);
      if (rh.status < 200) return;
      rh.minor = 1;  // HTTP/1.1 to visitors, whatever the origin speaks
      if (!visitor_keep || rh.body == http1::BodyKind::until_close) {
        rh.fields.set("Connection", "close");
      } else if (visitor_minor == 0) {
        rh.fields.set("Connection", "keep-alive");
      }
    };
    std::optional<Error> failed;
    const ResetFn reset = [&failed](Error e) { failed = std::move(e); };
    inspect::Exchange* capp = cap ? &*cap : nullptr;
    const std::size_t limit = capture_limit(t);
    auto res = co_await forward_exchange(tls, reset, rd, head, t, meta, capp, limit, shape);
    end_exchange(t, cap, started);
    if (!res.responded) {
      // The service could not be reached or ended without an answer: the page the relay would
      // have given (502), and the connection closes (the request may be half read).
      const std::string detail = failed ? failed->message : std::string("the local service did not answer");
      const auto page = http1::error_response(502, "Bad gateway", detail, html, true);
      co_await tls.write(net::bytes_of(page));
      break;
    }
    if (!res.complete && !failed) break;  // upgraded and joined: the connection is over
    if (!res.complete) {
      tls.abort("response failed");  // the visitor must not take a cut body for a whole one
      co_return;
    }
    if (!res.keep || !visitor_keep) break;
  }
  co_await tls.finish();  // close_notify and FIN
  // The relay's end follows (the visitor closes): dropping the stream before would reset it and
  // could discard the last response on its way.
  net::Watchdog dog(ex);
  dog.arm(kDrainTimeout, [&stream] { stream->abort("drain timeout"); });
  for (;;) {
    auto rest = co_await stream->read();
    if (!rest || rest->empty()) break;
  }
}

}  // namespace porthole::agent
