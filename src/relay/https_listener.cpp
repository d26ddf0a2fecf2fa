#include "relay/https_listener.hpp"

#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "net/listen.hpp"
#include "net/pump.hpp"
#include "net/tcp_stream.hpp"
#include "net/tls_stream.hpp"
#include "net/watchdog.hpp"
#include "proto/messages.hpp"
#include "proto/tls_hello.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace tls = proto::tls;

namespace {

// The ClientHello may be at most this long; with the record headers and what follows it in the
// last read, the sniffed bytes stay well under a few chunks.
constexpr std::size_t kMaxHello = 32 * 1024;

metrics::Counter& rejects(std::string_view reason) {
  return metrics::counter(fmt::format("porthole_relay_tls_rejects_total{{reason=\"{}\"}}", reason),
                          "Connections on the https listener refused before or during the TLS handshake, by reason");
}
metrics::Counter& routed(std::string_view how) {
  return metrics::counter(fmt::format("porthole_relay_https_connections_total{{route=\"{}\"}}", how),
                          "Connections on the https listener, by what served them");
}
metrics::Gauge& pending_gauge() {
  static auto& g = metrics::gauge("porthole_relay_tls_handshakes_pending", "TLS handshakes in progress on the https listener");
  return g;
}

// A fatal alert, sent if the socket takes it now (never waits), then the connection closes.
void refuse(net::tcp::socket& s, std::uint8_t alert, std::string_view reason, const std::string& visitor,
            std::string_view detail) {
  rejects(reason).inc();
  spdlog::debug("https {}: {} ({})", visitor, reason, detail);
  if (alert != 0 && s.is_open()) {
    const auto bytes = tls::fatal_alert(alert);
    [[maybe_unused]] auto n = ::send(s.native_handle(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    net::error_code ec;
    s.shutdown(net::tcp::socket::shutdown_send, ec);
  }
  net::error_code ec;
  s.close(ec);
}

std::string ip_of(const net::tcp::endpoint& peer) { return peer.address().to_string(); }

}  // namespace

struct HttpsListener::Pending {
  std::string ip;
  net::tcp::socket* socket = nullptr;  // closed to evict
  bool listed = false;
  bool evicted = false;
  std::list<Pending*>::iterator at;
};

HttpsListener::HttpsListener(asio::io_context& io, const config::RelayConfig& cfg, EndpointRegistry& registry,
                             std::shared_ptr<CertStore> certs, std::shared_ptr<HttpListener> http)
    : io_(io), cfg_(cfg), registry_(registry), certs_(std::move(certs)), http_(std::move(http)) {}

HttpsListener::~HttpsListener() { stop(); }

Result<void> HttpsListener::start(const std::string& address) {
  if (auto r = listen_.open(io_.get_executor(), cfg_, address); !r) return r;
  listen_.serve_each(shared_from_this());
  return {};
}

void HttpsListener::stop() { listen_.close(); }

std::uint16_t HttpsListener::port() const { return listen_.port(); }

// At a cap the oldest pending handshake (of this address, else overall) is dropped: a real
// client's handshake takes milliseconds, a staller's never ends.
void HttpsListener::admit(Pending& p) {
  auto evict = [this](Pending* victim) {
    rejects("evicted").inc();
    victim->evicted = true;
    net::error_code ec;
    victim->socket->close(ec);
    leave(*victim);
  };
  if (pending_by_ip_[p.ip] >= kMaxPendingPerIp) {
    for (auto* x : pending_) {
      if (x->ip == p.ip) {
        evict(x);
        break;
      }
    }
  }
  if (pending_.size() >= cfg_.max_tls_handshakes && !pending_.empty()) evict(pending_.front());
  p.at = pending_.insert(pending_.end(), &p);
  p.listed = true;
  ++pending_by_ip_[p.ip];
  pending_gauge().add(1);
}

void HttpsListener::leave(Pending& p) {
  if (!p.listed) return;
  p.listed = false;
  pending_.erase(p.at);
  if (auto it = pending_by_ip_.find(p.ip); it != pending_by_ip_.end() && --it->second == 0) pending_by_ip_.erase(it);
  pending_gauge().add(-1);
}

net::Task<void> HttpsListener::serve(net::tcp::socket socket, net::tcp::endpoint peer) {
  auto self = shared_from_this();
  auto visitor = net::format_endpoint(peer);
  net::tune_socket(socket);
  Pending p;
  p.ip = ip_of(peer);
  p.socket = &socket;
  admit(p);
  struct Leave {
    HttpsListener& l;
    Pending& p;
    ~Leave() { l.leave(p); }
  } leave_at_end{*this, p};
  const auto deadline = std::chrono::steady_clock::now() + cfg_.tls_handshake_timeout;
  net::error_code local_ec;
  const auto local = socket.local_endpoint(local_ec);
  VisitorConn conn;
  conn.ip = p.ip;
  if (!local_ec) conn.dest = net::format_endpoint(local);  // for PROXY headers towards the service

  // PROXY step: a trusted front proxy's header comes before the ClientHello. The socket is lent
  // to a stream for the read and taken back; what followed the header starts the hello.
  std::vector<std::uint8_t> sniffed;
  if (listen_.gate().trusts(peer)) {
    net::TcpStream raw(std::move(socket));
    p.socket = &raw.socket();
    auto h = co_await listen_.gate().read_header(raw, peer, local);
    socket = std::move(raw.socket());
    p.socket = &socket;
    if (!h) {
      if (p.evicted) co_return;
      rejects("proxy_header").inc();
      spdlog::debug("https {}: {}", visitor, h.error().message);
      co_return;
    }
    visitor = h->addr;
    conn.ip = h->ip;
    conn.dest = h->dest;
    sniffed = std::move(h->rest);
    leave(p);  // counted by the visitor's own address from now on, not the proxy's
    p.ip = conn.ip;
    admit(p);
  }

  // Sniff: the whole ClientHello, within the handshake deadline.
  net::Watchdog dog(socket.get_executor());
  bool timed_out = false;
  dog.arm(cfg_.tls_handshake_timeout, [&] {
    timed_out = true;
    net::error_code ec;
    socket.close(ec);
  });
  tls::ClientHelloReader reader(tls::HelloLimits{.max_hello = kMaxHello});
  if (!sniffed.empty()) reader.feed(sniffed);
  bool maybe_more = false;
  while (reader.status() == tls::ClientHelloReader::Status::need_more) {
    auto c = co_await net::read_chunk(socket, maybe_more);
    if (!c || c->empty()) {
      if (p.evicted) co_return;  // counted when it happened
      rejects(timed_out ? "timeout" : "closed").inc();
      spdlog::debug("https {}: {} before a whole ClientHello ({} bytes)", visitor, timed_out ? "deadline" : "closed",
                    sniffed.size());
      co_return;
    }
    sniffed.insert(sniffed.end(), c->bytes().begin(), c->bytes().end());
    reader.feed(c->bytes());
  }
  dog.disarm();
  if (reader.status() == tls::ClientHelloReader::Status::error) {
    refuse(socket, tls::alert_for(reader.error()), tls::hello_error_name(reader.error()), visitor, reader.message());
    co_return;
  }
  const auto& hello = reader.hello();
  if (!hello.has_sni) {
    refuse(socket, tls::kAlertUnrecognizedName, "no_sni", visitor, "the ClientHello names no server");
    co_return;
  }
  auto routes = registry_.routes();
  auto ep = routes->find(hello.sni);
  if (!ep || (ep->kind() != "http" && ep->kind() != "tls")) {
    refuse(socket, tls::kAlertUnrecognizedName, "unknown_sni", visitor, hello.sni);
    co_return;
  }
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());

  // Passthrough: the agent gets the bytes as they came.
  if (ep->kind() == "tls" || ep->edge().passthrough) {
    auto pick = ep->pick();
    if (!pick) {
      refuse(socket, tls::kAlertUnrecognizedName, "agent_offline", visitor, hello.sni);
      co_return;
    }
    auto stream = pick->session().open_stream(proto::encode(proto::OpenMeta{pick->tunnel(), visitor, "", conn.dest}));
    if (!stream) {
      refuse(socket, 0, "agent_offline", visitor, stream.error().message);
      co_return;
    }
    leave(p);
    routed("passthrough").inc();
    ep->count_visitor();
    net::TcpStream vs(std::move(socket));
    auto w = co_await (*stream)->write(sniffed);
    if (!w) {
      vs.abort("agent stream failed");
      co_return;
    }
    auto r = co_await net::pump(vs, **stream);
    spdlog::debug("https {}: passthrough to {} done: {} bytes in, {} out{}{}", visitor, hello.sni,
                  r.a_to_b + sniffed.size(), r.b_to_a, r.error.empty() ? "" : ", ", r.error);
    co_return;
  }

  // TLS-ALPN-01: exactly acme-tls/1 offered, for a name with a challenge set.
  if (hello.alpn.size() == 1 && hello.alpn[0] == "acme-tls/1") {
    auto ctx = certs_->challenge_for(hello.sni);
    if (!ctx) {
      refuse(socket, 120 /* no_application_protocol */, "acme_no_challenge", visitor, hello.sni);
      co_return;
    }
    net::TlsStream ts(std::move(socket), ctx.get(), net::TlsSocket::Side::server);
    p.socket = &ts.tls().socket();
    ts.tls().preload(sniffed);
    auto hs = co_await ts.handshake(remaining);
    routed("acme_challenge").inc();
    spdlog::info("https {}: acme-tls/1 challenge for {}: {}", visitor, hello.sni, hs ? "served" : hs.error().message);
    ts.shutdown_write();  // RFC 8737 3: nothing more is exchanged
    co_return;
  }

  // Terminated here: the name's certificate, then the HTTP pipeline over TLS.
  auto ctx = certs_->context_for(hello.sni);
  if (!ctx) {
    refuse(socket, tls::kAlertUnrecognizedName, "no_certificate", visitor, hello.sni);
    co_return;
  }
  net::TlsStream ts(std::move(socket), ctx.get(), net::TlsSocket::Side::server);
  p.socket = &ts.tls().socket();
  ts.tls().preload(sniffed);
  const auto& mtls = ep->edge().mtls_ca_pem;
  if (!mtls.empty()) {
    if (auto r = net::require_client_certificate(ts.tls().ssl(), mtls); !r) {
      spdlog::warn("https {}: mTLS for {} cannot be set up: {}", visitor, hello.sni, r.error().message);
      rejects("mtls_setup").inc();
      co_return;
    }
  }
  auto hs = co_await ts.handshake(remaining);
  if (!hs) {
    const bool cert_refused = !mtls.empty() && (SSL_get0_peer_certificate(ts.tls().ssl()) == nullptr ||
                                                SSL_get_verify_result(ts.tls().ssl()) != X509_V_OK);
    if (p.evicted) co_return;  // counted when it happened
    const char* why = cert_refused ? "client_certificate" : "handshake";
    rejects(why).inc();
    spdlog::debug("https {}: {} for {}: {}", visitor, why, hello.sni, hs.error().message);
    co_return;
  }
  leave(p);
  routed("terminated").inc();
  conn.scheme = "https";
  conn.sni = hello.sni;
  if (!mtls.empty()) conn.client_subject = net::client_subject(ts.tls().ssl());
  co_await http_->serve_stream(ts, visitor, std::move(conn));
}

}  // namespace porthole::relay
