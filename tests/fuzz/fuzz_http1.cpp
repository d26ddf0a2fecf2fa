// Fuzzes the HTTP/1.x codec: request and response heads at several split points (a prefix of a
// head is never complete, a prefix of anything incomplete stays incomplete), serialize/parse
// round trips, prepare_request/prepare_response output that parses again, and BodyFramer over
// arbitrary bytes giving the same outcome whole, byte by byte and split in two.
#include <cstdint>
#include <span>
#include <string>

#include "proto/http1.hpp"

namespace {

using namespace porthole::proto::http1;
using Bytes = std::span<const std::uint8_t>;

void require(bool ok) {
  if (!ok) __builtin_trap();
}

Bytes as_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

Limits roomy(const Limits& l) {
  Limits r = l;  // serialize adds a space after each colon and may add forwarding fields
  r.max_head = 2 * l.max_head + 4096;
  r.max_field = 2 * l.max_head + 4096;  // joined X-Forwarded-For / Forwarded lists
  r.max_fields = l.max_fields + 8;
  return r;
}

bool same_fields(const Fields& a, const Fields& b) {
  if (a.list.size() != b.list.size()) return false;
  for (std::size_t i = 0; i < a.list.size(); ++i) {
    if (a.list[i].name != b.list[i].name || a.list[i].value != b.list[i].value) return false;
  }
  return true;
}

template <class Head, class Parse>
void check_prefixes(Bytes in, const Parsed<Head>& full, Parse parse) {
  const std::size_t cuts[] = {
      0, 1, in.size() / 3, in.size() / 2, in.size() - 1, full.head_size - 1, full.head_size};
  for (std::size_t cut : cuts) {
    if (cut > in.size()) continue;
    const auto p = parse(in.first(cut));
    if (full.status == ParseStatus::complete) {
      if (cut < full.head_size) require(p.status == ParseStatus::incomplete);
      if (cut >= full.head_size) require(p.status == ParseStatus::complete && p.head_size == full.head_size);
    } else if (full.status == ParseStatus::incomplete) {
      require(p.status == ParseStatus::incomplete);
    } else {
      require(p.status != ParseStatus::complete);
    }
    if (p.status == ParseStatus::error) require(!p.error.message.empty());
  }
}

struct Outcome {
  std::size_t consumed = 0;
  bool done = false;
  bool failed = false;
  std::string error;
};

Outcome frame(BodyFramer f, Bytes in, std::size_t step) {
  Outcome o;
  std::size_t pos = 0;
  while (pos < in.size()) {
    const auto n = step == 0 ? in.size() - pos : std::min(step, in.size() - pos);
    const auto s = f.feed(in.subspan(pos, n));
    require(s.consumed <= n);
    o.consumed += s.consumed;
    if (s.error) {
      o.failed = true;
      o.error = s.error->message;
      return o;
    }
    if (s.done) {
      o.done = true;
      return o;
    }
    require(s.consumed == n);
    pos += n;
  }
  o.done = f.done();
  if (!o.done) (void)f.at_eof();
  return o;
}

void check_framer(BodyKind kind, std::uint64_t length, Bytes in, const Limits& l) {
  const BodyFramer f(kind, length, l);
  const auto whole = frame(f, in, 0);
  for (std::size_t step : {std::size_t{1}, std::size_t{5}, in.size() / 2 + 1}) {
    const auto o = frame(f, in, step);
    require(o.done == whole.done && o.failed == whole.failed && o.error == whole.error);
    if (!whole.failed) require(o.consumed == whole.consumed);
  }
}

void check_request(Bytes in, const Limits& l) {
  const auto full = parse_request(in, l);
  check_prefixes(in, full, [&](Bytes b) { return parse_request(b, l); });
  if (full.status != ParseStatus::complete) return;
  const auto& h = full.head;
  const auto text = serialize(h);
  const auto again = parse_request(as_bytes(text), roomy(l));
  require(again.status == ParseStatus::complete && again.head_size == text.size());
  const auto& g = again.head;
  require(g.method == h.method && g.target == h.target && g.minor == h.minor &&
          same_fields(g.fields, h.fields));
  require(g.host == h.host && g.host_port == h.host_port && g.body == h.body &&
          g.content_length == h.content_length && g.keep_alive == h.keep_alive &&
          g.expect_continue == h.expect_continue && g.upgrade == h.upgrade);
  require(serialize(g) == text);
  (void)accepts_html(h);
  auto forwarded = h;
  prepare_request(forwarded, ForwardContext{"2001:db8::1", "https", (in.size() & 1) != 0});
  const auto out = serialize(forwarded);
  const auto reparsed = parse_request(as_bytes(out), roomy(l));
  require(reparsed.status == ParseStatus::complete);
  require(reparsed.head.body == h.body && reparsed.head.content_length == h.content_length);
  check_framer(h.body, h.content_length, in.subspan(full.head_size), l);
}

void check_response(Bytes in, std::string_view method, const Limits& l) {
  const auto full = parse_response(in, method, l);
  check_prefixes(in, full, [&](Bytes b) { return parse_response(b, method, l); });
  if (full.status == ParseStatus::error) require(full.error.status == 502);
  if (full.status != ParseStatus::complete) return;
  const auto& h = full.head;
  const auto text = serialize(h);
  const auto again = parse_response(as_bytes(text), method, roomy(l));
  require(again.status == ParseStatus::complete && again.head_size == text.size());
  const auto& g = again.head;
  require(g.status == h.status && g.reason == h.reason && g.minor == h.minor &&
          same_fields(g.fields, h.fields));
  require(g.body == h.body && g.content_length == h.content_length && g.keep_alive == h.keep_alive);
  auto prepared = h;
  prepare_response(prepared);
  require(parse_response(as_bytes(serialize(prepared)), method, roomy(l)).status == ParseStatus::complete);
  check_framer(h.body, h.content_length, in.subspan(full.head_size), l);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Bytes in(data, size);
  Limits tight;
  tight.max_head = 256;
  tight.max_field = 64;
  tight.max_fields = 6;
  tight.max_chunk_line = 32;
  tight.max_trailers = 64;
  for (const Limits& l : {Limits{}, tight}) {
    check_request(in, l);
    for (std::string_view method : {"GET", "HEAD", "CONNECT"}) check_response(in, method, l);
    check_framer(BodyKind::chunked, 0, in, l);
  }
  check_framer(BodyKind::length, size / 2, in, Limits{});
  check_framer(BodyKind::until_close, 0, in, Limits{});
  // Error pages from arbitrary text parse back as complete responses with the right length.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const int status = 100 + static_cast<int>(size % 500);
  const auto page =
      error_response(status, text.substr(0, size / 2), text.substr(size / 2), (size & 1) != 0, true);
  const auto p = parse_response(as_bytes(page), "GET", roomy(Limits{}));
  require(p.status == ParseStatus::complete && p.head.status == status);
  if (p.head.body == BodyKind::length) require(p.head_size + p.head.content_length == page.size());
  return 0;
}
