#include "inspect/server.hpp"

#include <deque>
#include <map>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/address.hpp"
#include "core/metrics.hpp"
#include "inspect/api_json.hpp"
#include "net/listen.hpp"
#include "net/signal.hpp"

namespace porthole::inspect {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kHeaderTimeout = 10s;  // also the idle limit of a kept-alive connection
constexpr auto kBodyTimeout = 10s;
constexpr auto kWriteTimeout = 10s;
constexpr std::size_t kMaxHeader = 16 * 1024;
constexpr std::size_t kMaxBody = 24 * 1024 * 1024;  // an edited replay body (bodies are kept up to 1 MiB by default)
constexpr std::size_t kMaxConnections = 64;
constexpr std::size_t kMaxEventBacklog = 256;  // per event stream; a slow reader loses the oldest

metrics::Counter& errors(std::string_view kind) {
  static auto& bad = metrics::counter("porthole_inspect_http_errors_total",
                                      "Agent API connections that sent malformed HTTP");
  static auto& full = metrics::counter("porthole_inspect_over_limit_total",
                                       "Agent API connections refused at the connection cap");
  return kind == "bad" ? bad : full;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& ctx, Backend& b, std::shared_ptr<Recorder> r) : io(ctx), backend(b), recorder(std::move(r)) {}

  net::Task<void> accept_loop();
  net::Task<void> serve(net::tcp::socket socket);
  net::Task<void> events(beast::tcp_stream& stream);
  void stop();

  asio::io_context& io;
  Backend& backend;
  std::shared_ptr<Recorder> recorder;
  std::unique_ptr<net::tcp::acceptor> acceptor;
  ListenInfo at;
  bool stopped = false;
  std::map<beast::tcp_stream*, bool> conns;
};

net::Task<void> Server::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopped) {
    auto [ec, sock] = co_await acceptor->async_accept(net::use_nothrow);
    if (stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      co_await net::sleep_for(50ms);
      continue;
    }
    if (conns.size() >= kMaxConnections) {
      errors("full").inc();
      sock.close(ec);
      continue;
    }
    asio::co_spawn(io, serve(std::move(sock)), asio::detached);
  }
}

// GET /api/events: a Server-Sent Events stream. `event: request` carries a new capture's
// summary (no raw bytes: the page fetches those on demand), `event: status` the tunnels and
// the session every second.
net::Task<void> Server::Impl::events(beast::tcp_stream& stream) {
  auto self = shared_from_this();
  std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n";
  stream.expires_after(kWriteTimeout);
  auto [hec, hn] = co_await asio::async_write(stream, asio::buffer(head), net::use_nothrow);
  if (hec) co_return;
  std::deque<std::string> backlog;
  asio::steady_timer wake(io);
  int sub = -1;
  if (recorder) {
    sub = recorder->store().subscribe([&backlog, &wake](const ExchangePtr& e) {
      if (backlog.size() >= kMaxEventBacklog) backlog.pop_front();
      backlog.push_back("event: request\ndata: " + exchange_json(*e, false).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n\n");
      wake.cancel();
    });
  }
  // Unsubscribes however the coroutine ends (even destroyed unfinished at shutdown).
  struct Unsubscribe {
    Recorder* rec;
    int id;
    ~Unsubscribe() {
      if (rec != nullptr && id >= 0) rec->store().unsubscribe(id);
    }
  } unsubscribe{recorder.get(), sub};
  auto next_status = std::chrono::steady_clock::now();
  while (!stopped) {
    std::string out;
    while (!backlog.empty()) {
      out += backlog.front();
      backlog.pop_front();
    }
    if (std::chrono::steady_clock::now() >= next_status) {
      nlohmann::ordered_json tunnels = nlohmann::ordered_json::array();
      for (const auto& t : backend.tunnels()) tunnels.push_back(tunnel_json(t));
      nlohmann::ordered_json st = status_json(backend.status(), recorder.get());
      st["tunnels"] = std::move(tunnels);
      out += "event: status\ndata: " + st.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n\n";
      next_status = std::chrono::steady_clock::now() + 1s;
    }
    stream.expires_after(kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), net::use_nothrow);
    if (ec || stopped) break;
    if (!backlog.empty()) continue;
    wake.expires_at(next_status);
    co_await wake.async_wait(net::use_nothrow);
  }
}

net::Task<void> Server::Impl::serve(net::tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  conns[&stream] = true;
  struct Release {
    Impl& impl;
    beast::tcp_stream* s;
    ~Release() { impl.conns.erase(s); }
  } release{*this, &stream};
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kMaxHeader);
    parser.body_limit(kMaxBody);
    stream.expires_after(kHeaderTimeout);
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, net::use_nothrow);
    if (!ec && !parser.is_done()) {
      stream.expires_after(kBodyTimeout);
      std::tie(ec, n) = co_await http::async_read(stream, buf, parser, net::use_nothrow);
    }
    if (stopped) co_return;
    Response resp;
    bool keep = false;
    if (ec) {
      if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
          ec.category() != http::make_error_code(http::error::bad_method).category()) {
        break;  // closed, reset, idle
      }
      errors("bad").inc();
      const int status = ec == http::error::header_limit ? 431 : ec == http::error::body_limit ? 413 : 400;
      resp = json_error(status, status, "malformed HTTP request: " + ec.message());
    } else {
      auto& req = parser.get();
      Request r{std::string(req.method_string()),
                std::string(req.target()),
                std::string(req[http::field::host]),
                std::string(req[http::field::origin]),
                std::string(req["Sec-Fetch-Site"]),
                std::string(req[http::field::content_type]),
                std::move(req.body())};
      keep = req.keep_alive();
      const auto path = r.target.substr(0, r.target.find('?'));
      if (r.method == "GET" && (path == "/" || path == "/index.html" || path == "/api/events")) {
        if (auto why = check_host(r, at); !why.empty()) {
          resp = json_error(403, 403, why);
        } else if (path == "/api/events") {
          co_await events(stream);
          break;
        } else {
          resp = Response{200, "text/html; charset=utf-8", std::string(inspector_page()), {}};
          // The page loads nothing from elsewhere; a strict policy keeps it that way.
          resp.headers.emplace_back("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                                    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
        }
      } else {
        resp = co_await handle(backend, recorder.get(), at, r);
      }
      spdlog::debug("agent API: {} {} -> {}", std::string(req.method_string()), std::string(req.target()).substr(0, 200),
                    resp.status);
    }
    http::response<http::string_body> res{static_cast<http::status>(resp.status), 11};
    res.set(http::field::server, "porthole");
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("X-Frame-Options", "DENY");
    if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
    for (auto& [k, v] : resp.headers) res.set(k, v);
    res.body() = std::move(resp.body);
    res.keep_alive(keep);
    res.prepare_payload();
    stream.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await http::async_write(stream, res, net::use_nothrow);
    if (wec || !keep || stopped) break;
  }
  net::error_code ignored;
  stream.socket().shutdown(net::tcp::socket::shutdown_both, ignored);
  stream.close();
}

void Server::Impl::stop() {
  if (stopped) return;
  stopped = true;
  net::error_code ec;
  if (acceptor) acceptor->close(ec);
  for (auto& [s, c] : conns) s->close();
}

Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, Backend& backend, std::shared_ptr<Recorder> recorder,
                                              const std::string& address) {
  auto hp = parse_host_port(address, "127.0.0.1", /*allow_zero=*/true);
  if (!hp) return hp.error();
  Result<std::unique_ptr<net::tcp::acceptor>> acc = make_error("not tried");
  std::uint16_t port = hp->port;
  for (int i = 0; i < 11; ++i) {
    acc = net::listen_tcp(io.get_executor(), hp->host, port);
    if (acc || hp->port == 0 || port == 65535) break;
    if (acc.error().message.find("in use") == std::string::npos) break;
    ++port;
  }
  if (!acc) return make_error("inspect address {}: {}", format_host_port(*hp), acc.error().message);
  auto impl = std::make_shared<Impl>(io, backend, std::move(recorder));
  net::error_code ec;
  impl->at.port = (*acc)->local_endpoint(ec).port();
  impl->at.host = hp->host;
  impl->acceptor = std::move(*acc);
  asio::co_spawn(io, impl->accept_loop(), asio::detached);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::~Server() { impl_->stop(); }
std::uint16_t Server::port() const { return impl_->at.port; }
const std::string& Server::host() const { return impl_->at.host; }
std::string Server::url() const {
  const auto& h = impl_->at.host;
  const std::string shown = h == "0.0.0.0" ? "127.0.0.1" : h == "::" ? "::1" : h;
  return "http://" + format_host_port(shown, impl_->at.port);
}

}  // namespace porthole::inspect
