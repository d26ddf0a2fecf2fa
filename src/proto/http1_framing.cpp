// The field section of a head and what it means: Host, message framing (Content-Length,
// Transfer-Encoding: RFC 9112 section 6), persistence (Connection), Expect and Upgrade.
#include <limits>

#include "proto/http1_internal.hpp"

namespace porthole::proto::http1::detail {

namespace {

// What the fields that matter for routing and framing said, gathered in one pass.
struct Facts {
  std::size_t host_count = 0;
  std::string_view host;  // the first Host value
  std::size_t cl_count = 0;
  std::string_view cl;  // the first Content-Length value
  bool te = false;
  bool te_chunked = false;       // chunked is one of the codings
  bool te_last_chunked = false;  // ... and the last one so far
  bool te_twice = false;         // chunked more than once
  const char* te_bad = nullptr;  // a syntax error in a coding
  std::string_view te_other;     // the first coding other than chunked
  bool close = false;
  bool keep_alive = false;
  bool conn_upgrade = false;
  bool upgrade_field = false;
  bool expect_continue = false;
};

void note_transfer_encoding(Facts& f, std::string_view value) {
  f.te = true;
  for_each_element(value, [&](std::string_view coding) {
    if (coding.empty()) {
      if (!f.te_bad) f.te_bad = "empty element in Transfer-Encoding";
      return;
    }
    // transfer-coding = token *( OWS ";" OWS transfer-parameter ); chunked takes none.
    const auto name = trim_ows(coding.substr(0, coding.find(';')));
    if (!is_token(name)) {
      if (!f.te_bad) f.te_bad = "invalid transfer coding";
      return;
    }
    if (iequals(name, "chunked")) {
      if (name.size() != coding.size() && !f.te_bad) f.te_bad = "parameters on the chunked transfer coding";
      if (f.te_chunked) f.te_twice = true;
      f.te_chunked = f.te_last_chunked = true;
    } else {
      f.te_last_chunked = false;
      if (f.te_other.empty()) f.te_other = name;
    }
  });
}

void note_connection(Facts& f, std::string_view value) {
  for_each_element(value, [&](std::string_view option) {
    if (iequals(option, "close")) f.close = true;
    if (iequals(option, "keep-alive")) f.keep_alive = true;
    if (iequals(option, "upgrade")) f.conn_upgrade = true;
  });
}

void note(Facts& f, std::string_view name, std::string_view value) {
  switch (name.size()) {
    case 4:
      if (iequals(name, "host") && f.host_count++ == 0) f.host = value;
      break;
    case 6:
      if (iequals(name, "expect") && iequals(value, "100-continue")) f.expect_continue = true;
      break;
    case 7:
      if (iequals(name, "upgrade")) f.upgrade_field = true;
      break;
    case 10:
      if (iequals(name, "connection")) note_connection(f, value);
      break;
    case 14:
      if (iequals(name, "content-length") && f.cl_count++ == 0) f.cl = value;
      break;
    case 17:
      if (iequals(name, "transfer-encoding")) note_transfer_encoding(f, value);
      break;
    default:
      break;
  }
}

HeadError read_fields(std::string_view head, std::size_t pos, std::size_t count, Fields& fields,
                      Facts& facts) {
  fields.list.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::string_view name, value;
    if (auto e = split_field_line(next_line(head, pos), name, value)) return {400, e};
    note(facts, name, value);
    fields.list.push_back(Field{std::string(name), std::string(value)});
  }
  return {};
}

// Content-Length = 1*DIGIT, in one field, fitting 64 bits.
HeadError parse_content_length(const Facts& f, std::uint64_t& out) {
  if (f.cl_count > 1) return {400, "duplicate Content-Length"};
  if (f.cl.find(',') != std::string_view::npos) return {400, "Content-Length with a list of values"};
  if (f.cl.empty()) return {400, "empty Content-Length"};
  std::uint64_t n = 0;
  for (char c : f.cl) {
    if (c < '0' || c > '9') return {400, "invalid Content-Length"};
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return {400, "Content-Length too large"};
    n = n * 10 + d;
  }
  out = n;
  return {};
}

// The syntax errors of Transfer-Encoding common to requests and responses.
HeadError check_transfer_encoding(const Facts& f) {
  if (f.cl_count > 0) return {400, "both Transfer-Encoding and Content-Length"};
  if (f.te_bad) return {400, f.te_bad};
  if (f.te_twice) return {400, "chunked applied more than once in Transfer-Encoding"};
  return {};
}

HeadError request_framing(const Facts& f, RequestHead& h) {
  if (f.te) {
    if (h.minor == 0) return {400, "Transfer-Encoding in an HTTP/1.0 request"};
    if (auto e = check_transfer_encoding(f)) return e;
    if (!f.te_last_chunked) return {400, "chunked is not the final transfer coding"};
    if (!f.te_other.empty()) {
      return {501, "unsupported transfer coding \"" + std::string(f.te_other.substr(0, 32)) + "\""};
    }
    h.body = BodyKind::chunked;
  } else if (f.cl_count > 0) {
    if (auto e = parse_content_length(f, h.content_length)) return e;
    h.body = h.content_length == 0 ? BodyKind::none : BodyKind::length;
  }
  return {};
}

HeadError request_host(const Facts& f, RequestHead& h) {
  if (f.host_count == 0) return h.minor == 1 ? HeadError{400, "missing Host"} : HeadError{};
  if (f.host_count > 1) return {400, "duplicate Host"};
  if (f.host.empty()) return {400, "empty Host"};
  std::string host, port;
  if (auto e = parse_authority(f.host, host, port)) return {400, std::string("invalid Host: ") + e};
  if (h.host.empty()) {  // no authority in the target, which would win
    h.host = std::move(host);
    h.host_port = std::move(port);
  }
  return {};
}

bool persistent(const Facts& f, int minor) {
  return minor == 1 ? !f.close : f.keep_alive && !f.close;
}

bool is_no_body_status(int status) {
  return status < 200 || status == 204 || status == 304;
}

}  // namespace

HeadError parse_request_fields(std::string_view head, std::size_t pos, std::size_t count, RequestHead& h) {
  Facts f;
  if (auto e = read_fields(head, pos, count, h.fields, f)) return e;
  if (auto e = request_framing(f, h)) return e;
  if (auto e = request_host(f, h)) return e;
  h.keep_alive = persistent(f, h.minor);
  // HTTP/1.0 has neither: RFC 9110 sections 10.1.1 and 7.8 say to ignore them there.
  h.expect_continue = h.minor == 1 && f.expect_continue;
  h.upgrade = h.minor == 1 && f.conn_upgrade && f.upgrade_field;
  return {};
}

HeadError parse_response_fields(std::string_view head, std::size_t pos, std::size_t count,
                                std::string_view request_method, ResponseHead& h) {
  Facts f;
  if (auto e = read_fields(head, pos, count, h.fields, f)) return e;
  std::uint64_t length = 0;
  if (f.te) {
    if (auto e = check_transfer_encoding(f)) return e;
    if (h.minor == 0) return {400, "Transfer-Encoding in an HTTP/1.0 response"};
  } else if (f.cl_count > 0) {
    if (auto e = parse_content_length(f, length)) return e;
  }
  h.keep_alive = persistent(f, h.minor);
  const bool connect_ok = request_method == "CONNECT" && h.status >= 200 && h.status < 300;
  if (request_method == "HEAD" || is_no_body_status(h.status) || connect_ok) {
    h.body = BodyKind::none;
  } else if (f.te) {
    h.body = f.te_last_chunked ? BodyKind::chunked : BodyKind::until_close;
  } else if (f.cl_count > 0) {
    h.body = length == 0 ? BodyKind::none : BodyKind::length;
    h.content_length = length;
  } else {
    h.body = BodyKind::until_close;
  }
  if (h.body == BodyKind::until_close) h.keep_alive = false;
  return {};
}

}  // namespace porthole::proto::http1::detail
