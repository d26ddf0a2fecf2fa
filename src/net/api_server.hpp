// A small HTTP/1.1 server for local APIs — the relay's admin API and the agent's API and
// inspector — on Boost.Beast: header and body limits, keep-alive with a timeout per phase (the
// header timeout is also a kept-alive connection's idle limit), `Expect: 100-continue`, a
// connection cap at which the connection that has waited longest for a request makes room (idle
// or slow clients cannot lock the operator out), an error answer to a request that cannot be read
// followed by a lingering close (the client reads it before its unsent input turns our close into
// a reset), and every connection closed on stop(). What a request means is the handler's.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "net/asio.hpp"

namespace porthole::net {

struct ApiServerOptions {
  std::size_t max_header = 16 * 1024;
  std::size_t max_body = 1024 * 1024;
  std::size_t max_connections = 64;
  std::chrono::seconds header_timeout{10}, body_timeout{10}, write_timeout{10}, drain_timeout{2};
};

using ApiRequest = boost::beast::http::request<boost::beast::http::string_body>;
using ApiResponse = boost::beast::http::response<boost::beast::http::string_body>;

class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // The answer (its keep-alive and length are set by the server), or nullopt when the handler
  // used the stream itself (an event stream): the connection then closes.
  virtual Task<std::optional<ApiResponse>> handle(ApiRequest& req, boost::beast::tcp_stream& stream) = 0;
  // The answer to a request that could not be read: 400 (malformed), 413 or 431.
  virtual ApiResponse error_page(int status, std::string message) = 0;
  // Counts a problem: "malformed", "timeout", "over_limit" (refused at the cap), "evicted".
  virtual void count(std::string_view what) = 0;
};

class ApiServer : public std::enable_shared_from_this<ApiServer> {
 public:
  // Serves `acceptor`'s connections until stop(). The handler is held weakly: each connection
  // keeps it alive while it is served; once it is gone, new connections are closed.
  static std::shared_ptr<ApiServer> start(asio::io_context& io, std::unique_ptr<tcp::acceptor> acceptor,
                                          ApiServerOptions opts, std::weak_ptr<ApiHandler> handler);
  void stop();
  bool stopped() const { return stopped_; }
  std::uint16_t port() const { return port_; }

  ApiServer(asio::io_context& io, std::unique_ptr<tcp::acceptor> acceptor, ApiServerOptions opts,
            std::weak_ptr<ApiHandler> handler);

 private:
  enum class Next { keep, close, linger };
  Task<void> accept_loop();
  Task<void> serve(tcp::socket socket);
  Task<Next> answer(ApiHandler& h, boost::beast::tcp_stream& stream,
                    boost::beast::http::request_parser<boost::beast::http::string_body>& parser, error_code ec);
  Task<void> linger(boost::beast::tcp_stream& stream);
  bool evict_oldest_waiting(ApiHandler& h);
  void forget(boost::beast::tcp_stream* s);

  asio::io_context& io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  ApiServerOptions opts_;
  std::weak_ptr<ApiHandler> handler_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
  // Open connections, and whether each is waiting for a request (idle), with its age.
  struct Conn {
    std::uint64_t seq = 0;
    bool waiting = true;
  };
  std::uint64_t next_seq_ = 0;
  std::map<boost::beast::tcp_stream*, Conn> conns_;
};

}  // namespace porthole::net
