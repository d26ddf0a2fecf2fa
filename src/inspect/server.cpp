#include "inspect/server.hpp"

#include <deque>
#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "core/address.hpp"
#include "core/metrics.hpp"
#include "inspect/api_json.hpp"
#include "net/api_server.hpp"
#include "net/listen.hpp"

namespace porthole::inspect {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kWriteTimeout = 10s;
constexpr std::size_t kMaxBody = 24 * 1024 * 1024;  // an edited replay body (bodies are kept up to 1 MiB by default)
constexpr std::size_t kMaxEventBacklog = 256;  // per event stream; a slow reader loses the oldest

metrics::Counter& errors(std::string_view kind) {
  static auto& bad = metrics::counter("porthole_inspect_http_errors_total",
                                      "Agent API connections that sent malformed HTTP");
  static auto& full = metrics::counter("porthole_inspect_over_limit_total",
                                       "Agent API connections refused at the connection cap");
  return kind == "bad" ? bad : full;
}

net::ApiResponse to_http(Response&& resp) {
  http::response<http::string_body> res{static_cast<http::status>(resp.status), 11};
  res.set(http::field::server, "porthole");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  if (!resp.content_type.empty()) res.set(http::field::content_type, resp.content_type);
  for (auto& [k, v] : resp.headers) res.set(k, v);
  res.body() = std::move(resp.body);
  return res;
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Impl>, net::ApiHandler {
  Impl(asio::io_context& ctx, Backend& b, std::shared_ptr<Recorder> r) : io(ctx), backend(b), recorder(std::move(r)) {}

  net::Task<std::optional<net::ApiResponse>> handle(net::ApiRequest& req, beast::tcp_stream& stream) override;
  net::ApiResponse error_page(int status, std::string message) override {
    return to_http(json_error(status, status, message));
  }
  void count(std::string_view what) override {
    if (what == "malformed") errors("bad").inc();
    if (what == "over_limit") errors("full").inc();
  }
  net::Task<void> events(beast::tcp_stream& stream);
  bool stopped() const { return server->stopped(); }

  asio::io_context& io;
  Backend& backend;
  std::shared_ptr<Recorder> recorder;
  std::shared_ptr<net::ApiServer> server;
  ListenInfo at;
};

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
  while (!stopped()) {
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
    if (ec || stopped()) break;
    if (!backlog.empty()) continue;
    wake.expires_at(next_status);
    co_await wake.async_wait(net::use_nothrow);
  }
}

net::Task<std::optional<net::ApiResponse>> Server::Impl::handle(net::ApiRequest& req, beast::tcp_stream& stream) {
  Request r{std::string(req.method_string()),
            std::string(req.target()),
            std::string(req[http::field::host]),
            std::string(req[http::field::origin]),
            std::string(req["Sec-Fetch-Site"]),
            std::string(req[http::field::content_type]),
            std::move(req.body())};
  Response resp;
  const auto path = r.target.substr(0, r.target.find('?'));
  if (r.method == "GET" && (path == "/" || path == "/index.html" || path == "/api/events")) {
    if (auto why = check_host(r, at); !why.empty()) {
      resp = json_error(403, 403, why);
    } else if (path == "/api/events") {
      co_await events(stream);
      co_return std::nullopt;
    } else {
      resp = Response{200, "text/html; charset=utf-8", std::string(inspector_page()), {}};
      // The page loads nothing from elsewhere; a strict policy keeps it that way.
      resp.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    }
  } else {
    resp = co_await inspect::handle(backend, recorder.get(), at, r);
  }
  spdlog::debug("agent API: {} {} -> {}", r.method, r.target.substr(0, 200), resp.status);
  co_return to_http(std::move(resp));
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
  net::ApiServerOptions opts;
  opts.max_body = kMaxBody;
  impl->server = net::ApiServer::start(io, std::move(*acc), opts, impl);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::~Server() { impl_->server->stop(); }
std::uint16_t Server::port() const { return impl_->at.port; }
const std::string& Server::host() const { return impl_->at.host; }
std::string Server::url() const {
  const auto& h = impl_->at.host;
  const std::string shown = h == "0.0.0.0" ? "127.0.0.1" : h == "::" ? "::1" : h;
  return "http://" + format_host_port(shown, impl_->at.port);
}

}  // namespace porthole::inspect
