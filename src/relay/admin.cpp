#include "relay/admin.hpp"

#include "acme/status_json.hpp"

#include <array>
#include <chrono>
#include <map>

#include <spdlog/spdlog.h>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/address.hpp"
#include "net/listen.hpp"
#include "net/signal.hpp"
#include "relay/admin_routes.hpp"
#include "relay/relay.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kHeaderTimeout = 10s;  // also the idle limit of a kept-alive connection
constexpr auto kBodyTimeout = 10s;
constexpr auto kWriteTimeout = 10s;
constexpr auto kDrainTimeout = 2s;
constexpr std::size_t kMaxConnections = 64;

// The status to answer a failed read with, or 0 to close without answering.
int read_error_status(const net::error_code& ec) {
  if (ec == beast::error::timeout) {
    admin::count_error("timeout");
    return 0;
  }
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;  // parse error
  return 0;  // reset, eof, aborted
}

http::response<http::string_body> to_http(admin::Response&& r, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
  res.set(http::field::server, "porthole");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) res.set(name, value);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace

struct AdminServer::Impl : std::enable_shared_from_this<Impl>, admin::Backend {
  Impl(asio::io_context& ctx, Relay& r) : io(ctx), relay(r) {}

  std::vector<AgentInfo> agents() const override { return relay.agents(); }
  std::vector<EndpointInfo> endpoints() const override { return relay.endpoints(); }
  bool kick(std::string_view id) override { return relay.kick(id); }
  Store& store() override { return relay.store(); }
  nlohmann::json certificates() const override {
    auto list = nlohmann::json::array();
    auto* m = relay.acme();
    if (m != nullptr) {
      for (const auto& s : m->status()) list.push_back(acme::to_json(s));
    }
    return {{"directory", m != nullptr ? nlohmann::json(m->directory()) : nlohmann::json(nullptr)}, {"certificates", list}};
  }
  bool renew_certificate(std::string_view name) override {
    return relay.acme() != nullptr && relay.acme()->renew_now(std::string(name));
  }
  std::int64_t uptime_s() const override {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
        .count();
  }

  net::Task<void> accept_loop();
  net::Task<void> serve(net::tcp::socket socket);
  enum class Next { keep, close, linger };
  net::Task<Next> answer(beast::tcp_stream& stream, http::request_parser<http::string_body>& parser,
                         net::error_code ec);
  net::Task<void> linger(beast::tcp_stream& stream);
  bool evict_oldest_waiting();
  void set_waiting(beast::tcp_stream* s, bool waiting) {
    if (auto it = conns.find(s); it != conns.end()) it->second.waiting = waiting;
  }
  void stop();

  asio::io_context& io;
  Relay& relay;
  std::unique_ptr<net::tcp::acceptor> acceptor;
  std::string host;
  std::uint16_t port = 0;
  bool require_auth = true;
  bool stopped = false;
  // Open connections, and whether each is waiting for a request (idle) with its age.
  struct Conn {
    std::uint64_t seq = 0;
    bool waiting = true;
  };
  std::size_t active = 0;
  std::uint64_t next_seq = 0;
  std::map<beast::tcp_stream*, Conn> conns;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

net::Task<void> AdminServer::Impl::accept_loop() {
  auto self = shared_from_this();
  while (!stopped) {
    auto [ec, sock] = co_await acceptor->async_accept(net::use_nothrow);
    if (stopped || ec == asio::error::operation_aborted) break;
    if (ec) {
      co_await net::sleep_for(50ms);
      continue;
    }
    if (active >= kMaxConnections && !evict_oldest_waiting()) {
      admin::count_error("over_limit");
      sock.close(ec);
      continue;
    }
    ++active;
    asio::co_spawn(io, serve(std::move(sock)), asio::detached);
  }
}

// Answers one request (or a read error); false when the connection must close.
net::Task<AdminServer::Impl::Next> AdminServer::Impl::answer(beast::tcp_stream& stream,
                                                             http::request_parser<http::string_body>& parser,
                                                             net::error_code ec) {
  admin::Response resp;
  bool keep_alive = false;
  if (ec) {
    int status = read_error_status(ec);
    if (status == 0) co_return Next::close;
    resp = admin::error_response(status,
                                 status == 400 ? "malformed HTTP request: " + ec.message() : ec.message());
  } else {
    auto& req = parser.get();
    admin::Request r{std::string(req.method_string()), std::string(req.target()),
                     std::string(req[http::field::authorization]), std::move(req.body())};
    resp = admin::handle(*this, r, require_auth);
    keep_alive = req.keep_alive();
    spdlog::debug("admin API: {} {} -> {}", r.method, r.target.substr(0, 200), resp.status);
  }
  auto res = to_http(std::move(resp), keep_alive);
  stream.expires_after(kWriteTimeout);
  auto [wec, n] = co_await http::async_write(stream, res, net::use_nothrow);
  if (wec) co_return Next::close;
  co_return keep_alive ? Next::keep : ec ? Next::linger : Next::close;
}

// Lingering close after an error reply: let the client read it before its unread input (say,
// the rest of an oversized body) makes our close a reset.
net::Task<void> AdminServer::Impl::linger(beast::tcp_stream& stream) {
  net::error_code ignored;
  stream.socket().shutdown(net::tcp::socket::shutdown_send, ignored);
  stream.expires_after(kDrainTimeout);
  std::array<char, 4096> sink;
  for (;;) {
    auto [ec, got] = co_await stream.async_read_some(asio::buffer(sink), net::use_nothrow);
    if (ec || stopped) break;
  }
}

net::Task<void> AdminServer::Impl::serve(net::tcp::socket socket) {
  auto self = shared_from_this();
  beast::tcp_stream stream(std::move(socket));
  conns[&stream] = Conn{next_seq++, true};
  struct Release {
    Impl& impl;
    beast::tcp_stream* s;
    ~Release() {
      if (impl.conns.erase(s) != 0) --impl.active;  // not when evicted or already closing
    }
  } release{*this, &stream};
  beast::flat_buffer buf(admin::kMaxHeader + admin::kMaxBody + 4096);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(admin::kMaxHeader);
    parser.body_limit(admin::kMaxBody);
    stream.expires_after(kHeaderTimeout);
    set_waiting(&stream, true);
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, net::use_nothrow);
    set_waiting(&stream, false);
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        stream.expires_after(kWriteTimeout);
        std::tie(ec, n) = co_await http::async_write(stream, cont, net::use_nothrow);
      }
      stream.expires_after(kBodyTimeout);
      if (!ec) std::tie(ec, n) = co_await http::async_read(stream, buf, parser, net::use_nothrow);
    }
    if (stopped) co_return;
    auto next = co_await answer(stream, parser, ec);
    if (next == Next::keep) continue;
    // Closing: this connection no longer counts against the cap.
    if (conns.erase(&stream) != 0) --active;
    if (next == Next::linger && !stopped) co_await linger(stream);
    break;
  }
  net::error_code ignored;
  stream.socket().shutdown(net::tcp::socket::shutdown_both, ignored);
  stream.close();
}

// At the connection cap, the connection that has waited longest for a request makes room: idle
// or slow connections cannot lock the operator out (a real request arrives within milliseconds).
bool AdminServer::Impl::evict_oldest_waiting() {
  beast::tcp_stream* oldest = nullptr;
  std::uint64_t seq = 0;
  for (auto& [s, c] : conns) {
    if (c.waiting && (oldest == nullptr || c.seq < seq)) {
      oldest = s;
      seq = c.seq;
    }
  }
  if (oldest == nullptr) return false;
  admin::count_error("evicted");
  conns.erase(oldest);
  --active;
  oldest->close();  // its coroutine sees the error and ends
  return true;
}

void AdminServer::Impl::stop() {
  if (stopped) return;
  stopped = true;
  net::error_code ec;
  if (acceptor) acceptor->close(ec);
  for (auto& [s, c] : conns) s->close();
}

Result<std::unique_ptr<AdminServer>> AdminServer::start(asio::io_context& io, Relay& relay,
                                                        const std::string& address) {
  auto hp = parse_host_port(address, "127.0.0.1", /*allow_zero=*/true);
  if (!hp) return hp.error();
  auto acc = net::listen_tcp(io.get_executor(), hp->host, hp->port);
  if (!acc) return acc.error();
  auto impl = std::make_shared<Impl>(io, relay);
  net::error_code ec;
  impl->port = (*acc)->local_endpoint(ec).port();
  impl->acceptor = std::move(*acc);
  impl->host = hp->host;
  impl->require_auth = !admin::auth_exempt(hp->host);
  if (impl->require_auth && relay.store().list_tokens().empty()) {
    spdlog::warn("the admin API on {} needs a relay token and there is none yet", format_host_port(*hp));
  }
  asio::co_spawn(io, impl->accept_loop(), asio::detached);
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminServer::~AdminServer() {
  impl_->stop();
}

const std::string& AdminServer::host() const {
  return impl_->host;
}
std::uint16_t AdminServer::port() const {
  return impl_->port;
}
bool AdminServer::requires_auth() const {
  return impl_->require_auth;
}
std::string AdminServer::url() const {
  return "http://" + format_host_port(impl_->host, impl_->port);
}

}  // namespace porthole::relay
