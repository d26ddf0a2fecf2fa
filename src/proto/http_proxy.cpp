#include "proto/http_proxy.hpp"
#include "core/ascii.hpp"

#include <openssl/evp.h>

#include <fmt/format.h>

namespace porthole::proto::http_proxy {

namespace {

Parsed fail(int status, std::string why) {
  Parsed p;
  p.status = http1::ParseStatus::error;
  p.error_status = status;
  p.error = std::move(why);
  return p;
}

}  // namespace

Parsed parse(std::span<const std::uint8_t> in) {
  auto h = http1::parse_request(in);
  if (h.status == http1::ParseStatus::incomplete) return {};
  if (h.status == http1::ParseStatus::error) return fail(h.error.status, h.error.message);
  return from_head(std::move(h.head), h.head_size);
}

Parsed from_head(http1::RequestHead head, std::size_t head_size) {
  Parsed p;
  p.head_size = head_size;
  p.request.method = head.method;
  p.request.body = head.body;
  p.request.content_length = head.content_length;
  if (const auto* a = head.fields.get("Proxy-Authorization")) p.request.proxy_authorization = *a;
  p.request.host = head.host;
  if (head.host.size() > 2 && head.host.front() == '[') p.request.host = head.host.substr(1, head.host.size() - 2);
  if (head.method == "CONNECT") {
    p.request.tunnel = true;
  } else {
    const auto& t = head.target;
    if (t.size() >= 8 && iequals(t.substr(0, 8), "https://")) {
      return fail(400, "an https:// URL through an HTTP proxy: use CONNECT (curl does with -x for https URLs)");
    }
    if (t.size() < 7 || !iequals(t.substr(0, 7), "http://")) {
      return fail(400, "not a proxy request: give an absolute URL (GET http://host/path) or CONNECT host:port");
    }
    if (head.body != http1::BodyKind::none && head.body != http1::BodyKind::length && head.body != http1::BodyKind::chunked) {
      return fail(400, "request body framing not allowed");
    }
    const auto path_at = t.find_first_of("/?", 7);
    std::string origin = path_at == std::string::npos ? "/" : t.substr(path_at);
    if (!origin.empty() && origin[0] == '?') origin = "/" + origin;
    const std::string authority = head.host_port.empty() ? head.host : head.host + ":" + head.host_port;
    head.target = origin;
    head.fields.remove("Proxy-Authorization");
    head.fields.remove("Proxy-Connection");
    head.fields.remove("Connection");
    head.fields.remove("Keep-Alive");
    head.fields.set("Host", authority);
    if (!head.keep_alive) head.fields.set("Connection", "close");  // else HTTP/1.1's default: keep-alive
    p.request.forward_head = http1::serialize(head);
  }
  unsigned port = 80;
  if (!head.host_port.empty()) {
    port = 0;
    for (char c : head.host_port) port = port * 10 + static_cast<unsigned>(c - '0');
  }
  if (port == 0 || port > 65535) return fail(400, "port 0 is not a destination");
  p.request.port = static_cast<std::uint16_t>(port);
  p.request.keep_alive = head.keep_alive;
  p.status = http1::ParseStatus::complete;
  return p;
}

bool basic_matches(std::string_view value, std::string_view user, std::string_view password) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  if (value.size() < 6 || !iequals(value.substr(0, 6), "basic ")) return false;
  value.remove_prefix(6);
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  const std::string plain = fmt::format("{}:{}", user, password);
  std::string expected(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(expected.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  expected.resize(static_cast<std::size_t>(n));
  if (expected.size() != value.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < value.size(); ++i) diff |= static_cast<unsigned char>(expected[i] ^ value[i]);
  return diff == 0;
}

std::string response(int status, std::string_view detail) {
  const char* reason = status == 400   ? "Bad Request"
                       : status == 403 ? "Forbidden"
                       : status == 407 ? "Proxy Authentication Required"
                       : status == 502 ? "Bad Gateway"
                       : status == 503 ? "Service Unavailable"
                       : status == 504 ? "Gateway Timeout"
                       : status == 431 ? "Request Header Fields Too Large"
                       : status == 501 ? "Not Implemented"
                       : status == 505 ? "HTTP Version Not Supported"
                                       : "Error";
  std::string body = fmt::format("porthole socks: {}\n", detail);
  std::string extra = status == 407 ? "Proxy-Authenticate: Basic realm=\"porthole\"\r\n" : "";
  return fmt::format("HTTP/1.1 {} {}\r\n{}Content-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
                     "Connection: close\r\n\r\n{}",
                     status, reason, extra, body.size(), body);
}

}  // namespace porthole::proto::http_proxy
