#include "relay/http_listener.hpp"

#include <spdlog/spdlog.h>

#include "acme/sink.hpp"
#include "core/metrics.hpp"
#include "net/http_io.hpp"
#include "net/listen.hpp"
#include "net/prefixed_stream.hpp"
#include "net/tcp_stream.hpp"
#include "net/watchdog.hpp"
#include "relay/http_exchange.hpp"
#include "relay/policy_step.hpp"
#include "relay/proxy_sniff.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace http1 = proto::http1;

namespace {
metrics::Counter& http_visitors() {
  static auto& c = metrics::counter("porthole_relay_http_connections_total", "Visitor connections on the HTTP listener");
  return c;
}
metrics::Counter& evicted() {
  static auto& c = metrics::counter("porthole_relay_http_evictions_total",
                                    "Idle visitor connections closed to make room under the per-IP cap");
  return c;
}
metrics::Gauge& open_gauge() {
  static auto& g = metrics::gauge("porthole_relay_http_connections_open", "Visitor connections open on the HTTP listener");
  return g;
}
// Checks what routing relies on and makes the target origin-form (an absolute-form target's
// authority already is `head.host`); returns why the request cannot be routed, or "".
std::string routable(http1::RequestHead& head) {
  const auto& h = head.host;
  if (h.empty()) return "the request names no host";
  if (h.front() == '.' || h.back() == '.' || h.find("..") != std::string::npos) return fmt::format("invalid host name '{}'", h);
  if (!head.target.empty() && head.target.front() != '/' && head.target != "*") {
    // The target's authority is the host (RFC 9112 3.2.2): the Host field follows it.
    const auto bracket = h.find(':') != std::string::npos;
    head.fields.set("Host", fmt::format("{}{}{}{}{}", bracket ? "[" : "", h, bracket ? "]" : "",
                                        head.host_port.empty() ? "" : ":", head.host_port));
    const auto scheme = head.target.find("://");
    const auto path = scheme == std::string::npos ? std::string::npos : head.target.find('/', scheme + 3);
    const auto query = scheme == std::string::npos ? std::string::npos : head.target.find('?', scheme + 3);
    if (path != std::string::npos && (query == std::string::npos || path < query)) {
      head.target = head.target.substr(path);
    } else if (query != std::string::npos) {
      head.target = "/" + head.target.substr(query);
    } else {
      head.target = "/";
    }
  }
  return {};
}

// The on_http_response step for this request (nothing when the endpoint has no policy).
std::function<void(http1::ResponseHead&)> response_hook(const std::shared_ptr<Endpoint>& ep, const std::string& ip,
                                                        const http1::RequestHead& head) {
  if (!ep->has_policy()) return {};
  http1::RequestHead req;
  req.method = head.method;
  req.host = head.host;
  req.target = head.target;
  return [ep, ip, req](http1::ResponseHead& rh) { response_policy(*ep, ip, req, rh); };
}

// 308 to the same URL on the https port (RFC 9110 15.4.9: the method and body are kept).
std::string redirect_response(const http1::RequestHead& head, std::uint16_t https_port, bool close) {
  const bool v6 = head.host.find(':') != std::string::npos;
  std::string location = fmt::format("https://{}{}{}", v6 ? "[" : "", head.host, v6 ? "]" : "");
  if (https_port != 443) location += fmt::format(":{}", https_port);
  location += head.target.empty() || head.target.front() != '/' ? std::string("/") : head.target;
  static auto& redirects = metrics::counter("porthole_relay_https_redirects_total",
                                            "Plain HTTP requests answered 308 to https (--redirect-https)");
  redirects.inc();
  return fmt::format("HTTP/1.1 308 Permanent Redirect\r\nLocation: {}\r\nContent-Length: 0\r\n{}\r\n", location,
                     close ? "Connection: close\r\n" : "");
}

}  // namespace

// One visitor connection, known to the per-IP accounting. `idle`: waiting for (or reading) a
// request head, so it may be closed to make room.
struct HttpListener::Visitor {
  std::string ip;
  net::ByteStream* stream = nullptr;
  bool idle = true;
  std::list<Visitor*>::iterator at;
};

HttpListener::HttpListener(asio::io_context& io, const config::RelayConfig& cfg, Store& store,
                           EndpointRegistry& registry)
    : io_(io), cfg_(cfg), store_(store), registry_(registry) {}

HttpListener::~HttpListener() { stop(); }

Result<void> HttpListener::start(const std::string& address) {
  for (const auto& c : cfg_.trusted_proxies) {
    if (auto r = trusted_.add(c); !r) return make_error("--trusted-proxy: {}", r.error().message);
  }
  if (auto r = listen_.open(io_.get_executor(), cfg_, address); !r) return r;
  listen_.serve_each(shared_from_this());
  return {};
}

void HttpListener::stop() { listen_.close(); }

std::uint16_t HttpListener::port() const { return listen_.port(); }

bool HttpListener::admit(Visitor& v) {
  auto& list = by_ip_[v.ip];
  if (list.size() >= cfg_.max_http_conns_per_ip) {
    auto victim = std::find_if(list.begin(), list.end(), [](Visitor* x) { return x->idle; });
    if (victim == list.end()) return false;
    evicted().inc();
    (*victim)->stream->abort("evicted: too many connections from this address");
    leave(**victim);
  }
  v.at = by_ip_[v.ip].insert(by_ip_[v.ip].end(), &v);
  return true;
}

void HttpListener::leave(Visitor& v) {
  if (v.stream == nullptr) return;
  auto it = by_ip_.find(v.ip);
  if (it != by_ip_.end()) {
    it->second.erase(v.at);
    if (it->second.empty()) by_ip_.erase(it);
  }
  v.stream = nullptr;
}

net::Task<void> HttpListener::serve(net::tcp::socket socket, net::tcp::endpoint peer) {
  net::error_code local_ec;
  const auto local = socket.local_endpoint(local_ec);
  net::TcpStream vs(std::move(socket));
  // PROXY protocol step (relay/proxy_sniff.hpp): the visitor address is the one a trusted
  // proxy's header carries; a header from anyone else fails the read. Read through front.stream.
  auto front = co_await listen_.gate().accept(vs, peer, local);
  if (!front) {
    spdlog::debug("http {}: {}", net::format_endpoint(peer), front.error().message);
    vs.abort(front.error().message);
    co_return;
  }
  // Named, not temporaries, in the co_await's arguments (GCC 12 destroys those twice).
  std::string addr = front->addr;
  VisitorConn conn;
  conn.ip = front->ip;
  conn.dest = front->dest;
  co_await serve_stream(*front->stream, std::move(addr), std::move(conn));
}

net::Task<void> HttpListener::serve_stream(net::ByteStream& vs, std::string visitor_addr, VisitorConn conn) {
  auto self = shared_from_this();
  Visitor v;
  v.ip = conn.ip;
  if (v.ip.empty()) {  // the address as the listener saw it (HOST:PORT, [v6]:PORT)
    v.ip = visitor_addr.substr(0, visitor_addr.rfind(':'));
    if (v.ip.size() > 2 && v.ip.front() == '[') v.ip = v.ip.substr(1, v.ip.size() - 2);
  }
  v.stream = &vs;
  http_visitors().inc();
  if (!admit(v)) {
    v.stream = nullptr;
    co_await answer(vs, HttpFailure::too_many_connections, "too many connections from your address", false);
    vs.shutdown_write();
    co_return;
  }
  open_gauge().add(1);
  http1::ForwardContext fctx;
  fctx.client_ip = v.ip;
  fctx.trusted_peer = trusted_.contains(v.ip);
  fctx.proto = conn.scheme;
  ExchangeOptions xo;
  xo.upstream_timeout = cfg_.upstream_timeout;
  xo.body_timeout = cfg_.http_body_timeout;
  xo.visitor_dest = conn.dest;
  net::MessageReader reader(vs);
  net::Watchdog dog(co_await asio::this_coro::executor);
  bool first = true;
  for (;;) {
    // Sniff: the request head, within the head deadline (idle deadline between requests).
    v.idle = true;
    dog.arm(first ? cfg_.http_head_timeout : cfg_.http_idle_timeout, [&vs] { vs.abort("request head timeout"); });
    auto r = co_await reader.read_request(http1::Limits{});
    dog.disarm();
    first = false;
    if (v.stream == nullptr) break;  // evicted
    if (r.status == net::HeadStatus::eof || r.status == net::HeadStatus::failed) break;
    v.idle = false;
    if (r.status == net::HeadStatus::bad) {
      const auto f = r.bad.status == 431 ? HttpFailure::head_too_large : HttpFailure::bad_request;
      spdlog::debug("http {}: bad request: {}", visitor_addr, r.bad.message);
      co_await answer(vs, f, r.bad.message, false, r.bad.status);
      vs.shutdown_write();
      break;
    }
    auto& head = r.head;
    const bool html = http1::accepts_html(head);
    if (auto bad = routable(head); !bad.empty()) {
      co_await answer(vs, HttpFailure::bad_request, bad, false, 400);
      vs.shutdown_write();
      break;
    }
    if (auto challenge = acme_board_ ? acme_board_->response_for(head.method, head.target) : std::nullopt) {
      co_await vs.write(net::bytes_of(*challenge));  // ACME HTTP-01 (docs/acme.md), before routing
      break;
    }
    if (head.method == "CONNECT") {
      co_await answer(vs, HttpFailure::method_not_allowed, "this is a reverse proxy, not a forward proxy", html);
      vs.shutdown_write();
      break;
    }
    // Route by this request's own Host.
    if (!conn.sni.empty() && head.host != conn.sni) {
      // RFC 9110 15.5.20: this connection's certificate and routing are for the SNI name only.
      std::string detail = fmt::format("this connection is for {}, not {}", conn.sni, head.host);
      const bool keep = head.keep_alive && head.body == http1::BodyKind::none;
      co_await answer(vs, HttpFailure::misdirected, detail, html, 0, !keep);
      if (!keep) break;
      continue;
    }
    auto routes = registry_.routes();
    auto ep = routes->find(head.host);
    if (ep && ep->kind() == "http" && conn.scheme == "http" && ep->edge().redirect_https && https_port_ != 0) {
      const bool keep = head.keep_alive && head.body == http1::BodyKind::none;
      auto page = redirect_response(head, https_port_, !keep);
      auto w = co_await vs.write(net::bytes_of(page));
      if (!w || !keep) break;
      continue;
    }
    if (ep && (ep->kind() != "http" || ep->edge().passthrough)) {
      // A TLS passthrough name (kind tls, or TLS terminated at the agent): it speaks TLS only.
      std::string detail = fmt::format("{} is served over https only", head.host);
      co_await answer(vs, HttpFailure::unknown_host, detail, html, 0, true);
      break;
    }
    if (!ep) {
      // (Named values, not temporaries, in co_await arguments: GCC 12 destroys temporaries of a
      // conditional expression inside co_await twice.)
      const bool known = store_.find_hostname(head.host).has_value();  // exact or wildcard claim
      const auto failure = known ? HttpFailure::agent_offline : HttpFailure::unknown_host;
      std::string detail = known ? fmt::format("the agent for {} is offline", head.host)
                                 : fmt::format("no tunnel is registered for {}", head.host);
      // A body we do not forward cannot be skipped safely: the connection closes (announced).
      const bool keep = head.keep_alive && head.body == http1::BodyKind::none;
      co_await answer(vs, failure, detail, html, 0, !keep);
      if (!keep) break;
      continue;
    }
    // Policy step (policy_step.cpp): the operator's rules, then the endpoint's.
    const std::string_view scheme = conn.scheme, sni = conn.sni, subject = conn.client_subject;
    auto step = co_await request_policy(*ep, vs, reader, head, v.ip, scheme, sni, subject);
    if (!step.forward) {
      if (!step.keep_alive) break;
      continue;
    }
    auto pick = ep->pick();
    if (!pick) {
      std::string detail = fmt::format("the agent for {} is offline", head.host);
      const bool keep = head.keep_alive && head.body == http1::BodyKind::none;
      co_await answer(vs, HttpFailure::agent_offline, detail, html, 0, !keep);
      if (!keep) break;
      continue;
    }
    ep->count_visitor();
    xo.on_response = response_hook(ep, v.ip, head);
    http1::prepare_request(head, fctx);
    head.fields.remove(kClientSubjectHeader);  // only the relay says who the client is
    if (!conn.client_subject.empty()) head.fields.set(kClientSubjectHeader, conn.client_subject);
    xo.hsts = conn.scheme == "https" ? ep->edge().hsts : std::string();
    net::PrefixedStream body_stream(vs, net::bytes_of(step.body));  // a body the policy step read
    net::MessageReader body_reader(body_stream);
    auto& body_from = step.buffered ? body_reader : reader;
    auto x = co_await forward_exchange(*pick, vs, body_from, head, visitor_addr, xo);
    if (!x.keep_alive) break;
  }
  leave(v);
  open_gauge().add(-1);
  vs.shutdown_write();
}

}  // namespace porthole::relay
