#include "net/api_server.hpp"

#include <array>

#include "net/listen.hpp"

namespace porthole::net {

namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// The status to answer a failed read with, or 0 to close without answering.
int read_error_status(const error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;  // parse error
  return 0;  // timeout, reset, eof, aborted
}

}  // namespace

ApiServer::ApiServer(asio::io_context& io, std::unique_ptr<tcp::acceptor> acceptor, ApiServerOptions opts,
                     std::weak_ptr<ApiHandler> handler)
    : io_(io), acceptor_(std::move(acceptor)), opts_(opts), handler_(std::move(handler)) {
  error_code ec;
  port_ = acceptor_->local_endpoint(ec).port();
}

std::shared_ptr<ApiServer> ApiServer::start(asio::io_context& io, std::unique_ptr<tcp::acceptor> acceptor,
                                            ApiServerOptions opts, std::weak_ptr<ApiHandler> handler) {
  auto s = std::make_shared<ApiServer>(io, std::move(acceptor), opts, std::move(handler));
  asio::co_spawn(io, s->accept_loop(), asio::detached);
  return s;
}

Task<void> ApiServer::accept_loop() {
  auto self = shared_from_this();
  OnAccept admit = [this](tcp::socket sock, const tcp::endpoint&) {
    error_code ec;
    auto h = handler_.lock();
    if (stopped_ || !h) {
      sock.close(ec);
      return;
    }
    if (conns_.size() >= opts_.max_connections && !evict_oldest_waiting(*h)) {
      h->count("over_limit");
      sock.close(ec);
      return;
    }
    asio::co_spawn(io_, serve(std::move(sock)), asio::detached);
  };
  co_await accept_each(*acceptor_, std::move(admit));
}

void ApiServer::forget(beast::tcp_stream* s) { conns_.erase(s); }

Task<void> ApiServer::serve(tcp::socket socket) {
  auto self = shared_from_this();
  auto handler = handler_.lock();
  if (!handler) co_return;
  beast::tcp_stream stream(std::move(socket));
  conns_[&stream] = Conn{next_seq_++, true};
  struct Release {
    ApiServer& server;
    beast::tcp_stream* s;
    ~Release() { server.forget(s); }
  } release{*this, &stream};
  beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(opts_.max_header));
    parser.body_limit(opts_.max_body);
    stream.expires_after(opts_.header_timeout);
    if (auto it = conns_.find(&stream); it != conns_.end()) it->second.waiting = true;
    auto [ec, n] = co_await http::async_read_header(stream, buf, parser, use_nothrow);
    if (auto it = conns_.find(&stream); it != conns_.end()) it->second.waiting = false;
    if (!ec && !parser.is_done()) {
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        stream.expires_after(opts_.write_timeout);
        std::tie(ec, n) = co_await http::async_write(stream, cont, use_nothrow);
      }
      stream.expires_after(opts_.body_timeout);
      if (!ec) std::tie(ec, n) = co_await http::async_read(stream, buf, parser, use_nothrow);
    }
    if (stopped_) co_return;
    auto next = co_await answer(*handler, stream, parser, ec);
    if (next == Next::keep && !stopped_) continue;
    forget(&stream);  // closing: no longer counted against the cap
    if (next == Next::linger && !stopped_) co_await linger(stream);
    break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
}

Task<ApiServer::Next> ApiServer::answer(ApiHandler& h, beast::tcp_stream& stream,
                                        http::request_parser<http::string_body>& parser, error_code ec) {
  std::optional<ApiResponse> res;
  bool keep_alive = false;
  if (ec) {
    if (ec == beast::error::timeout) h.count("timeout");
    const int status = read_error_status(ec);
    if (status == 0) co_return Next::close;
    h.count("malformed");
    res = h.error_page(status, status == 400 ? "malformed HTTP request: " + ec.message() : ec.message());
  } else {
    auto& req = parser.get();
    keep_alive = req.keep_alive();
    res = co_await h.handle(req, stream);
    if (!res) co_return Next::close;  // the handler used the stream itself
  }
  res->version(11);
  res->keep_alive(keep_alive);
  res->prepare_payload();
  stream.expires_after(opts_.write_timeout);
  auto [wec, n] = co_await http::async_write(stream, *res, use_nothrow);
  if (wec) co_return Next::close;
  co_return keep_alive ? Next::keep : ec ? Next::linger : Next::close;
}

Task<void> ApiServer::linger(beast::tcp_stream& stream) {
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(opts_.drain_timeout);
  std::array<char, 4096> sink;
  for (;;) {
    auto [ec, got] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
    if (ec || stopped_) break;
  }
}

bool ApiServer::evict_oldest_waiting(ApiHandler& h) {
  beast::tcp_stream* oldest = nullptr;
  std::uint64_t seq = 0;
  for (auto& [s, c] : conns_) {
    if (c.waiting && (oldest == nullptr || c.seq < seq)) {
      oldest = s;
      seq = c.seq;
    }
  }
  if (oldest == nullptr) return false;
  h.count("evicted");
  conns_.erase(oldest);
  oldest->close();  // its coroutine sees the error and ends
  return true;
}

void ApiServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  error_code ec;
  acceptor_->close(ec);
  for (auto& [s, c] : conns_) s->close();
}

}  // namespace porthole::net
