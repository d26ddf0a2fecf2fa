#include "relay/admin_client.hpp"

#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "net/asio.hpp"
#include "net/tcp_stream.hpp"

namespace porthole::relay {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;

Result<HostPort> parse_admin_url(std::string_view url) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    return make_error(
        "--admin {}: the admin API speaks plain HTTP (reach it over loopback, ssh -L or a TLS proxy)", url);
  }
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/")
      return make_error("--admin {}: give the address only, like http://HOST:PORT", url);
    rest = rest.substr(0, slash);
  }
  auto hp = parse_host_port(rest, "127.0.0.1");
  if (!hp) return make_error("--admin {}: {}", url, hp.error().message);
  return hp;
}

namespace {

net::Task<Result<AdminReply>> exchange(HostPort to, AdminCall call) {
  auto sock = co_await net::dial(to.host, to.port, call.timeout);
  if (!sock) co_return sock.error();
  beast::tcp_stream stream(std::move(*sock));
  stream.expires_after(call.timeout);
  http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
  req.set(http::field::host, format_host_port(to));
  req.set(http::field::user_agent, "porthole");
  req.set(http::field::accept, "application/json");
  if (!call.token.empty()) req.set(http::field::authorization, "Bearer " + call.token);
  if (!call.body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = call.body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, req, net::use_nothrow);
  if (wec) co_return make_error("admin API at {}: {}", format_host_port(to), wec.message());
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  auto [rec, rn] = co_await http::async_read(stream, buf, parser, net::use_nothrow);
  if (rec) co_return make_error("admin API at {}: {}", format_host_port(to), rec.message());
  co_return AdminReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

}  // namespace

Result<AdminReply> admin_request(const HostPort& to, const AdminCall& call) {
  asio::io_context io(1);
  std::optional<Result<AdminReply>> out;
  asio::co_spawn(
      io, [&]() -> net::Task<void> { out.emplace(co_await exchange(to, call)); }, asio::detached);
  io.run();
  if (!out) return make_error("admin API at {}: no reply", format_host_port(to));
  return std::move(*out);
}

std::string admin_error_text(const AdminReply& reply) {
  auto j = nlohmann::json::parse(reply.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  auto body = reply.body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return "HTTP " + std::to_string(reply.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace porthole::relay
