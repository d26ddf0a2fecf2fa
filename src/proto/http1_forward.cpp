// Field look-ups, what a proxy changes before forwarding a message (hop-by-hop fields:
// RFC 9110 section 7.6.1; X-Forwarded-*, Forwarded: RFC 7239), and error responses.
#include <algorithm>
#include <array>

#include "proto/http1_internal.hpp"

namespace porthole::proto::http1 {

using detail::iequals;

const std::string* Fields::get(std::string_view name) const {
  for (const auto& f : list) {
    if (iequals(f.name, name)) return &f.value;
  }
  return nullptr;
}

std::size_t Fields::count(std::string_view name) const {
  return static_cast<std::size_t>(
      std::count_if(list.begin(), list.end(), [&](const Field& f) { return iequals(f.name, name); }));
}

void Fields::add(std::string_view name, std::string_view value) {
  list.push_back(Field{std::string(name), std::string(value)});
}

void Fields::set(std::string_view name, std::string_view value) {
  remove(name);
  add(name, value);
}

void Fields::remove(std::string_view name) {
  std::erase_if(list, [&](const Field& f) { return iequals(f.name, name); });
}

bool Fields::has_token(std::string_view name, std::string_view token) const {
  for (const auto& f : list) {
    if (!iequals(f.name, name)) continue;
    bool found = false;
    detail::for_each_element(f.value, [&](std::string_view e) { found = found || iequals(e, token); });
    if (found) return true;
  }
  return false;
}

namespace {

// Every value of `name`, in order, joined with ", " (one list, RFC 9110 section 5.3).
std::string joined(const Fields& fields, std::string_view name) {
  std::string out;
  for (const auto& f : fields.list) {
    if (!iequals(f.name, name)) continue;
    if (!out.empty()) out += ", ";
    out += f.value;
  }
  return out;
}

// Removes the hop-by-hop fields: the fixed ones and every field Connection names, except the
// framing fields and Host (and Upgrade when `keep_upgrade`).
void remove_hop_by_hop(Fields& fields, bool keep_upgrade) {
  std::vector<std::string> named;
  for (const auto& f : fields.list) {
    if (!iequals(f.name, "connection")) continue;
    detail::for_each_element(f.value, [&](std::string_view e) {
      if (!e.empty()) named.emplace_back(e);
    });
  }
  static constexpr std::array<std::string_view, 5> kFixed = {"connection", "keep-alive", "proxy-connection",
                                                             "te", "trailer"};
  std::erase_if(fields.list, [&](const Field& f) {
    const std::string_view n = f.name;
    if (iequals(n, "host") || iequals(n, "content-length") || iequals(n, "transfer-encoding")) return false;
    if (iequals(n, "upgrade")) return !keep_upgrade;
    for (auto fixed : kFixed) {
      if (iequals(n, fixed)) return true;
    }
    return std::any_of(named.begin(), named.end(), [&](const std::string& x) { return iequals(n, x); });
  });
}

// A Forwarded parameter value: a token, or a quoted-string.
void append_forwarded_value(std::string& out, std::string_view v) {
  if (detail::is_token(v)) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

std::string forwarded_element(const ForwardContext& ctx, std::string_view host) {
  std::string e = "for=";
  if (ctx.client_ip.empty()) {
    e += "unknown";
  } else if (ctx.client_ip.find(':') != std::string::npos) {
    append_forwarded_value(e, "[" + ctx.client_ip + "]");  // RFC 7239 section 6: "[v6]"
  } else {
    append_forwarded_value(e, ctx.client_ip);
  }
  if (!host.empty()) {
    e += ";host=";
    append_forwarded_value(e, host);
  }
  e += ";proto=";
  append_forwarded_value(e, ctx.proto);
  return e;
}

// The authority of an absolute-form target ("http://a.example:8080/x" -> "a.example:8080"),
// else "".
std::string_view absolute_form_authority(const RequestHead& head) {
  if (head.method == "CONNECT") return {};
  const std::string_view t = head.target;
  const auto sep = t.find("://");
  if (t.empty() || t[0] == '/' || sep == std::string_view::npos) return {};
  const auto rest = t.substr(sep + 3);
  return rest.substr(0, rest.find_first_of("/?"));
}

}  // namespace

void prepare_request(RequestHead& head, const ForwardContext& ctx) {
  remove_hop_by_hop(head.fields, head.upgrade);
  // RFC 9112 section 3.2.2: a proxy replaces Host with the authority of an absolute-form target.
  if (const auto authority = absolute_form_authority(head); !authority.empty()) {
    head.fields.set("Host", authority);
  }
  const auto* host_field = head.fields.get("Host");
  const std::string host = host_field ? *host_field : std::string();
  const bool trusted = ctx.trusted_peer;

  std::string xff = trusted ? joined(head.fields, "X-Forwarded-For") : std::string();
  xff += xff.empty() ? "" : ", ";
  xff += ctx.client_ip;
  head.fields.remove("X-Forwarded-For");
  if (!xff.empty()) head.fields.add("X-Forwarded-For", xff);
  if (!trusted || head.fields.count("X-Forwarded-Proto") == 0) {
    head.fields.set("X-Forwarded-Proto", ctx.proto);
  }
  if (!trusted || head.fields.count("X-Forwarded-Host") == 0) {
    head.fields.remove("X-Forwarded-Host");
    if (!host.empty()) head.fields.add("X-Forwarded-Host", host);
  }
  std::string forwarded = trusted ? joined(head.fields, "Forwarded") : std::string();
  forwarded += forwarded.empty() ? "" : ", ";
  forwarded += forwarded_element(ctx, host);
  head.fields.set("Forwarded", forwarded);
  if (head.upgrade) head.fields.set("Connection", "upgrade");
}

void prepare_response(ResponseHead& head) {
  const bool upgrade = head.status == 101;
  remove_hop_by_hop(head.fields, upgrade);
  if (upgrade) head.fields.set("Connection", "upgrade");
}

bool accepts_html(const RequestHead& head) {
  for (const auto& f : head.fields.list) {
    if (!iequals(f.name, "accept")) continue;
    bool found = false;
    detail::for_each_element(f.value, [&](std::string_view e) {
      found = found || iequals(detail::trim_ows(e.substr(0, e.find(';'))), "text/html");
    });
    if (found) return true;
  }
  return false;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 426:
      return "Upgrade Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

namespace {

void append_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
        break;
    }
  }
}

std::string error_page(int status, std::string_view title, std::string_view detail) {
  std::string b;
  b.reserve(640 + 2 * (title.size() + detail.size()));
  b += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  b += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>";
  append_escaped(b, title);
  b += "</title>\n<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;";
  b += "padding:0 1rem;color:#222;line-height:1.5}h1{font-size:1.5rem}p{color:#444}";
  b += "footer{margin-top:2rem;color:#888;font-size:.85rem}</style>\n</head>\n<body>\n<h1>";
  append_escaped(b, title);
  b += "</h1>\n<p>";
  append_escaped(b, detail);
  b += "</p>\n<footer>";
  b += std::to_string(status);
  b += ' ';
  b += reason_phrase(status);
  b += " &middot; porthole</footer>\n</body>\n</html>\n";
  return b;
}

}  // namespace

std::string error_response(int status, std::string_view title, std::string_view detail, bool html,
                           bool close) {
  std::string body;
  if (html) {
    body = error_page(status, title, detail);
  } else {
    body.reserve(title.size() + detail.size() + 3);
    body += title;
    body += ": ";
    body += detail;
    body += '\n';
  }
  std::string out = "HTTP/1.1 ";
  out.reserve(160 + body.size());
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += html ? "\r\nContent-Type: text/html; charset=utf-8" : "\r\nContent-Type: text/plain; charset=utf-8";
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\nCache-Control: no-store\r\n";
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace porthole::proto::http1
