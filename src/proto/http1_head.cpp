// Request and response heads: finding the end (line endings and limits), start lines, and
// serialization. Field semantics (framing, Host, Connection) are in http1_framing.cpp.
#include <cstring>

#include <fmt/format.h>

#include "proto/http1_internal.hpp"

namespace porthole::proto::http1 {

using detail::HeadError;
using detail::HeadScan;

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// "HTTP/" DIGIT "." DIGIT
bool is_http_version(std::string_view v) {
  return v.size() == 8 && v.substr(0, 5) == "HTTP/" && is_digit(v[5]) && v[6] == '.' && is_digit(v[7]);
}

// The version is exactly HTTP/1.1 or HTTP/1.0; another well-formed one is 505.
HeadError parse_version(std::string_view v, int& minor) {
  if (v == "HTTP/1.1") {
    minor = 1;
  } else if (v == "HTTP/1.0") {
    minor = 0;
  } else if (is_http_version(v)) {
    return {505, "unsupported HTTP version"};
  } else {
    return {400, "invalid HTTP version"};
  }
  return {};
}

std::string_view as_view(std::span<const std::uint8_t> buf) {
  return {reinterpret_cast<const char*>(buf.data()), buf.size()};
}

// absolute-form: an http or https URI whose authority (no userinfo) is the request's host.
HeadError parse_absolute_target(std::string_view target, RequestHead& h) {
  const auto sep = target.find("://");
  const auto scheme = target.substr(0, sep);
  if (!detail::iequals(scheme, "http") && !detail::iequals(scheme, "https")) {
    return {400, "unsupported scheme in the request target"};
  }
  const auto rest = target.substr(sep + 3);
  const auto authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.find('@') != std::string_view::npos) return {400, "userinfo in the request target"};
  if (auto e = detail::parse_authority(authority, h.host, h.host_port)) {
    return {400, std::string("invalid host in the request target: ") + e};
  }
  return {};
}

// The target's form must suit the method (RFC 9112 section 3.2); an authority in the target
// (absolute-form, CONNECT's authority-form) sets h.host and h.host_port.
HeadError check_target(RequestHead& h) {
  const std::string_view t = h.target;
  if (t.find('#') != std::string_view::npos) return {400, "fragment in the request target"};
  if (h.method == "CONNECT") {
    if (t.find('@') != std::string_view::npos) return {400, "userinfo in the request target"};
    if (auto e = detail::parse_authority(t, h.host, h.host_port)) {
      return {400, std::string("CONNECT needs an authority-form target (host:port): ") + e};
    }
    if (h.host_port.empty()) return {400, "CONNECT needs an authority-form target (host:port): no port"};
    return {};
  }
  if (t[0] == '/') return {};
  if (t == "*") {
    return h.method == "OPTIONS" ? HeadError{} : HeadError{400, "request target * is only for OPTIONS"};
  }
  if (t.find("://") != std::string_view::npos) return parse_absolute_target(t, h);
  return {400, "invalid request target (authority-form is only for CONNECT)"};
}

HeadError parse_request_line(std::string_view line, RequestHead& h) {
  std::size_t i = 0;
  while (i < line.size() && detail::is_tchar(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0) return {400, line[0] == ' ' ? "whitespace before the method" : "invalid character in method"};
  if (i == line.size()) return {400, "missing request target"};
  if (line[i] != ' ') return {400, "invalid character in method"};
  h.method.assign(line.substr(0, i));
  ++i;
  if (i < line.size() && line[i] == ' ') return {400, "more than one SP after the method"};
  const std::size_t target_start = i;
  while (i < line.size() && line[i] != ' ') {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c <= 0x20 || c >= 0x7f) return {400, "invalid character in request target"};
    ++i;
  }
  if (i == target_start) return {400, "missing request target"};
  if (i == line.size()) return {400, "missing HTTP version"};
  h.target.assign(line.substr(target_start, i - target_start));
  const auto version = line.substr(i + 1);
  if (version.find(' ') != std::string_view::npos) {
    return {400, version.starts_with(' ') ? "more than one SP before the HTTP version"
                                          : "extra SP in the request line (a space in the target?)"};
  }
  if (auto e = parse_version(version, h.minor)) return e;
  return check_target(h);
}

HeadError parse_status_line(std::string_view line, ResponseHead& h) {
  if (line.size() < 8 || (line.size() > 8 && line[8] != ' ')) return {502, "invalid status line"};
  if (auto e = parse_version(line.substr(0, 8), h.minor)) return {502, e.message};
  if (line.size() < 12) return {502, "invalid status code"};
  if (line[9] == ' ') return {502, "more than one SP after the HTTP version"};
  if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) return {502, "invalid status code"};
  if (line.size() > 12 && line[12] != ' ') return {502, "invalid status code"};
  h.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (h.status < 100 || h.status > 599) return {502, "status code out of range"};
  const auto reason = line.size() > 12 ? line.substr(13) : std::string_view();
  for (char ch : reason) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') return {502, "bare CR in reason phrase"};
    if ((c < 0x20 && c != '\t') || c == 0x7f) return {502, "control character in reason phrase"};
  }
  h.reason.assign(reason);
  return {};
}

template <class Head>
Parsed<Head> failed(int status, std::string message) {
  Parsed<Head> p;
  p.status = ParseStatus::error;
  p.error = ParseError{status, std::move(message)};
  return p;
}

}  // namespace

HeadScan detail::scan_head(std::string_view buf, const Limits& limits, bool request) {
  HeadScan s;
  const auto fail = [&](int status, std::string message) {
    s.status = ParseStatus::error;
    s.error = HeadError{status, std::move(message)};
    return s;
  };
  const auto too_big = [&](std::string message) { return fail(431, std::move(message)); };
  std::size_t pos = 0, skipped = 0;
  bool have_start = false;
  for (;;) {
    const void* lf = pos < buf.size() ? std::memchr(buf.data() + pos, '\n', buf.size() - pos) : nullptr;
    if (lf == nullptr) {
      if (buf.size() >= limits.max_head) {
        return too_big(fmt::format("head larger than {} bytes", limits.max_head));
      }
      std::size_t partial = buf.size() - pos;
      if (partial > 0 && buf.back() == '\r') --partial;
      if (have_start && partial > limits.max_field) {
        return too_big(fmt::format("field line longer than {} bytes", limits.max_field));
      }
      if (have_start && partial > 0 && s.fields == limits.max_fields) {
        return too_big(fmt::format("more than {} header fields", limits.max_fields));
      }
      return s;  // incomplete
    }
    const auto i = static_cast<std::size_t>(static_cast<const char*>(lf) - buf.data());
    if (i + 1 > limits.max_head) return too_big(fmt::format("head larger than {} bytes", limits.max_head));
    if (i == pos || buf[i - 1] != '\r') return fail(400, "bare LF (a line not ending in CRLF)");
    const std::size_t len = i - 1 - pos;
    if (len > 0 && buf[pos] == '\r') return fail(400, "bare CR (a line starting with CR)");
    if (!have_start) {
      if (len == 0) {
        if (!request) return fail(400, "empty line before the status line");
        if (++skipped > 2) return fail(400, "more than two empty lines before the request line");
        pos = i + 1;
        continue;
      }
      have_start = true;
      s.start = pos;
    } else if (len == 0) {
      s.status = ParseStatus::complete;
      s.end = i + 1;
      return s;
    } else {
      if (len > limits.max_field) {
        return too_big(fmt::format("field line longer than {} bytes", limits.max_field));
      }
      if (++s.fields > limits.max_fields) {
        return too_big(fmt::format("more than {} header fields", limits.max_fields));
      }
    }
    pos = i + 1;
  }
}

// Walks the lines of a head scan_head found complete (each ends in CRLF): the start line first.
std::string_view detail::next_line(std::string_view head, std::size_t& pos) {
  const auto lf = head.find('\n', pos);
  const auto line = head.substr(pos, lf - 1 - pos);
  pos = lf + 1;
  return line;
}

Parsed<RequestHead> parse_request(std::span<const std::uint8_t> buf, const Limits& limits) {
  const auto text = as_view(buf);
  const auto scan = detail::scan_head(text, limits, true);
  if (scan.status == ParseStatus::error) return failed<RequestHead>(scan.error.status, scan.error.message);
  Parsed<RequestHead> p;
  if (scan.status == ParseStatus::incomplete) return p;
  std::size_t pos = scan.start;
  if (auto e = parse_request_line(detail::next_line(text, pos), p.head)) {
    return failed<RequestHead>(e.status, e.message);
  }
  if (auto e = detail::parse_request_fields(text.substr(0, scan.end), pos, scan.fields, p.head)) {
    return failed<RequestHead>(e.status, e.message);
  }
  p.status = ParseStatus::complete;
  p.head_size = scan.end;
  return p;
}

Parsed<ResponseHead> parse_response(std::span<const std::uint8_t> buf, std::string_view request_method,
                                    const Limits& limits) {
  const auto text = as_view(buf);
  const auto scan = detail::scan_head(text, limits, false);
  if (scan.status == ParseStatus::error) return failed<ResponseHead>(502, scan.error.message);
  Parsed<ResponseHead> p;
  if (scan.status == ParseStatus::incomplete) return p;
  std::size_t pos = scan.start;
  if (auto e = parse_status_line(detail::next_line(text, pos), p.head)) {
    return failed<ResponseHead>(e.status, e.message);
  }
  if (auto e =
          detail::parse_response_fields(text.substr(0, scan.end), pos, scan.fields, request_method, p.head)) {
    return failed<ResponseHead>(502, e.message);
  }
  p.status = ParseStatus::complete;
  p.head_size = scan.end;
  return p;
}

namespace {

void append_fields(std::string& out, const Fields& fields) {
  for (const auto& f : fields.list) {
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  out += "\r\n";
}

std::size_t fields_size(const Fields& fields) {
  std::size_t n = 2;
  for (const auto& f : fields.list) n += f.name.size() + f.value.size() + 4;
  return n;
}

}  // namespace

std::string serialize(const RequestHead& head) {
  std::string out;
  out.reserve(head.method.size() + head.target.size() + 12 + fields_size(head.fields));
  out += head.method;
  out += ' ';
  out += head.target;
  out += head.minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
  append_fields(out, head.fields);
  return out;
}

std::string serialize(const ResponseHead& head) {
  std::string out;
  out.reserve(head.reason.size() + 16 + fields_size(head.fields));
  out += head.minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(head.status);
  out += ' ';
  out += head.reason;
  out += "\r\n";
  append_fields(out, head.fields);
  return out;
}

}  // namespace porthole::proto::http1
