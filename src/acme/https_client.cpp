#include "acme/https_client.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/x509v3.h>

namespace porthole::acme {

namespace asio = net::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {
constexpr std::size_t kMaxBody = 1 << 20;  // a chain or an order is a few KiB
}

Result<Url> parse_https_url(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) return make_error("'{}' is not an https:// URL", url);
  auto rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  Url u;
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  u.port = "443";
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error("'{}': unclosed [", url);
    u.host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error("'{}': bad port", url);
      u.port = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) u.port = authority.substr(colon + 1);
  }
  if (u.host.empty()) return make_error("'{}' names no host", url);
  if (u.port.empty() || u.port.size() > 5 || u.port.find_first_not_of("0123456789") != std::string::npos) {
    return make_error("'{}': bad port", url);
  }
  if (u.target.find_first_of(" \r\n") != std::string::npos) return make_error("'{}': bad path", url);
  return u;
}

Result<HttpsClient> HttpsClient::create(net::Executor ex, const std::string& ca_file, std::chrono::seconds timeout) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  net::error_code ec;
  ctx->set_verify_mode(asio::ssl::verify_peer, ec);
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
  } else {
    ctx->load_verify_file(ca_file, ec);
  }
  if (ec) return make_error("ACME CA bundle {}: {}", ca_file.empty() ? "(system)" : ca_file, ec.message());
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  return HttpsClient(std::move(ex), std::move(ctx), timeout);
}

net::Task<Result<Response>> HttpsClient::fetch(const Request& req) {
  auto url = parse_https_url(req.url);
  if (!url) co_return url.error();
  beast::ssl_stream<beast::tcp_stream> stream(ex_, *ctx_);
  SSL* ssl = stream.native_handle();
  net::error_code ec;
  (void)asio::ip::make_address(url->host, ec);
  if (ec) {
    SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(url->host.c_str()));
    SSL_set1_host(ssl, url->host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url->host.c_str());
  }
  beast::get_lowest_layer(stream).expires_after(timeout_);  // one deadline for the whole exchange
  asio::ip::tcp::resolver resolver(ex_);
  auto [rec, results] = co_await resolver.async_resolve(url->host, url->port, net::use_nothrow);
  if (rec) co_return make_error(Errc::refused, "resolve {}: {}", url->host, rec.message());
  std::vector<asio::ip::tcp::endpoint> endpoints;
  for (const auto& e : results) endpoints.push_back(e.endpoint());
  if (check_) {
    auto ok = check_(url->host, endpoints);
    if (!ok) co_return ok.error();
    if (endpoints.empty()) co_return make_error(Errc::refused, "{}: no address to connect to", url->host);
  }
  auto [cec, ep] = co_await beast::get_lowest_layer(stream).async_connect(endpoints, net::use_nothrow);
  if (cec) co_return make_error(Errc::refused, "connect {}:{}: {}", url->host, url->port, cec.message());
  auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::client, net::use_nothrow);
  if (hec) co_return make_error("TLS with {}: {}", url->host, hec.message());

  http::request<http::string_body> hreq;
  hreq.method_string(req.method);
  hreq.target(url->target);
  hreq.version(11);
  hreq.set(http::field::host, url->port == "443" ? url->host : url->host + ":" + url->port);
  hreq.set(http::field::user_agent, "porthole-acme");
  if (!req.accept.empty()) hreq.set(http::field::accept, req.accept);
  if (!req.authorization.empty()) hreq.set(http::field::authorization, req.authorization);
  if (req.method == "POST") {
    hreq.set(http::field::content_type, req.content_type.empty() ? "application/jose+json" : req.content_type);
    hreq.body() = req.body;
  }
  hreq.keep_alive(false);
  hreq.prepare_payload();
  auto [wec, wn] = co_await http::async_write(stream, hreq, net::use_nothrow);
  if (wec) co_return make_error("send to {}: {}", url->host, wec.message());

  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxBody);
  parser.header_limit(64 * 1024);
  if (req.method == "HEAD") parser.skip(true);
  auto [rec2, rn] = co_await http::async_read(stream, buf, parser, net::use_nothrow);
  if (rec2) co_return make_error("response from {}: {}", url->host, rec2.message());
  const auto& res = parser.get();
  Response out;
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  out.content_type = std::string(res[http::field::content_type]);
  out.location = std::string(res[http::field::location]);
  out.replay_nonce = std::string(res["Replay-Nonce"]);
  out.retry_after = std::string(res[http::field::retry_after]);
  out.cache_control = std::string(res[http::field::cache_control]);
  beast::get_lowest_layer(stream).close();
  co_return out;
}

}  // namespace porthole::acme
