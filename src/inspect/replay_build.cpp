// The bytes of a replay: the captured request as it was, or with edits (method, target,
// headers, body). The result is checked with the same strict parser a visitor's request meets,
// so an edit that makes a malformed request is refused here with the parser's reason.
#include "inspect/api.hpp"
#include "net/byte_stream.hpp"

namespace porthole::inspect {

namespace http1 = proto::http1;

namespace {
bool framing_field(std::string_view name) {
  auto eq = [&](std::string_view f) {
    if (f.size() != name.size()) return false;
    for (std::size_t i = 0; i < f.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(f[i])) != std::tolower(static_cast<unsigned char>(name[i]))) {
        return false;
      }
    }
    return true;
  };
  return eq("content-length") || eq("transfer-encoding");
}
}  // namespace

Result<std::string> build_replay(const Exchange& e, const ReplayEdits& edits) {
  const bool edited = edits.method || edits.uri || edits.body || edits.headers;
  if (!edited) {
    if (e.request.truncated()) {
      return make_error("the captured body was cut at {} of {} bytes (--inspect-body-limit): give a body to replay it",
                        e.request.body.size(), e.request.body_size);
    }
    return e.request.head + e.request.body;
  }
  auto parsed = http1::parse_request(net::bytes_of(e.request.head));
  if (parsed.status != http1::ParseStatus::complete) return make_error("the captured head does not parse");
  auto head = std::move(parsed.head);
  if (edits.method) head.method = *edits.method;
  if (edits.uri) head.target = *edits.uri;
  if (edits.headers) {
    const auto host = head.fields.get("Host") ? *head.fields.get("Host") : std::string();
    const auto old = head.fields;
    head.fields.list.clear();
    for (const auto& f : *edits.headers) {
      if (!framing_field(f.name)) head.fields.add(f.name, f.value);
    }
    if (head.fields.get("Host") == nullptr && !host.empty()) head.fields.add("Host", host);
    // The body's framing is the body's business, not the edit's.
    for (const auto& f : old.list) {
      if (framing_field(f.name) && !edits.body) head.fields.add(f.name, f.value);
    }
  }
  std::string body;
  if (edits.body) {
    head.fields.remove("Transfer-Encoding");
    head.fields.remove("Content-Length");
    if (!edits.body->empty() || head.method == "POST" || head.method == "PUT" || head.method == "PATCH") {
      head.fields.set("Content-Length", std::to_string(edits.body->size()));
    }
    body = *edits.body;
  } else {
    if (e.request.truncated()) {
      return make_error("the captured body was cut at {} of {} bytes (--inspect-body-limit): give a body to replay it",
                        e.request.body.size(), e.request.body_size);
    }
    body = e.request.body;
  }
  auto out = http1::serialize(head) + body;
  auto check = http1::parse_request(net::bytes_of(out));
  if (check.status != http1::ParseStatus::complete) {
    return make_error("the edited request is not valid HTTP/1.1: {}",
                      check.status == http1::ParseStatus::error ? check.error.message : "incomplete head");
  }
  return out;
}

}  // namespace porthole::inspect
