#include "net/http_io.hpp"

namespace porthole::net {

namespace http1 = proto::http1;

Task<Result<bool>> MessageReader::fill() {
  auto chunk = co_await s_.read();
  if (!chunk) co_return chunk.error();
  if (chunk->empty()) co_return false;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  } else if (pos_ > 0 && pos_ >= buf_.size() / 2) {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
    pos_ = 0;
  }
  auto b = chunk->bytes();
  buf_.insert(buf_.end(), b.begin(), b.end());
  co_return true;
}

void MessageReader::consume(std::size_t n) {
  pos_ += n;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
}

namespace {

// A head ends at an empty line. Re-parsing everything whenever a byte arrives would cost
// O(n^2) for a client that sends its head a byte at a time, so the parser runs again only when
// the new bytes may end the head (a "\n\r\n" or "\n\n"), when the buffer doubled since the
// last parse (early errors still show quickly), or when it is past the head limit (431).
bool worth_parsing(std::span<const std::uint8_t> head, std::size_t scanned, std::size_t last_parsed,
                   std::size_t max_head) {
  if (last_parsed == 0 || head.size() >= 2 * last_parsed || head.size() > max_head) return true;
  for (std::size_t i = scanned > 2 ? scanned - 2 : 0; i + 1 < head.size(); ++i) {
    if (head[i] != '\n') continue;
    if (head[i + 1] == '\n' || (head[i + 1] == '\r' && i + 2 < head.size() && head[i + 2] == '\n')) return true;
  }
  return false;
}

template <class Head, class Parse>
Task<HeadRead<Head>> read_head(Parse parse, std::size_t max_head, std::vector<std::uint8_t>& buf, std::size_t& pos,
                               auto fill) {
  HeadRead<Head> out;
  std::size_t scanned = 0, last_parsed = 0;
  for (;;) {
    const std::span<const std::uint8_t> pending(buf.data() + pos, buf.size() - pos);
    if (!pending.empty() && worth_parsing(pending, scanned, last_parsed, max_head)) {
      last_parsed = pending.size();
      auto parsed = parse(pending);
      if (parsed.status == http1::ParseStatus::complete) {
        pos += parsed.head_size;
        if (pos == buf.size()) {
          buf.clear();
          pos = 0;
        }
        out.status = HeadStatus::ok;
        out.head = std::move(parsed.head);
        co_return out;
      }
      if (parsed.status == http1::ParseStatus::error) {
        out.status = HeadStatus::bad;
        out.bad = std::move(parsed.error);
        co_return out;
      }
    }
    scanned = pending.size();
    const bool started = !pending.empty();
    const auto before = pos;
    auto more = co_await fill();
    if (pos != before) scanned = 0;  // fill() moved the buffer: scan the pending bytes again
    if (!more) {
      out.status = HeadStatus::failed;
      out.failed = more.error();
      co_return out;
    }
    if (!*more) {
      out.status = started ? HeadStatus::failed : HeadStatus::eof;
      if (started) out.failed = make_error(Errc::closed, "the connection ended inside a message head");
      co_return out;
    }
  }
}

}  // namespace

Task<HeadRead<http1::RequestHead>> MessageReader::read_request(const http1::Limits& limits) {
  return read_head<http1::RequestHead>(
      [&limits](std::span<const std::uint8_t> b) { return http1::parse_request(b, limits); }, limits.max_head, buf_,
      pos_, [this] { return fill(); });
}

Task<HeadRead<http1::ResponseHead>> MessageReader::read_response(std::string_view request_method,
                                                                const http1::Limits& limits) {
  return read_head<http1::ResponseHead>(
      [method = std::string(request_method), &limits](std::span<const std::uint8_t> b) {
        return http1::parse_response(b, method, limits);
      },
      limits.max_head, buf_, pos_, [this] { return fill(); });
}

namespace {

// Where copy_body's bytes go: the head (`prefix`) rides with the first body bytes, and with
// `last` the final write also ends the stream (one send, one mux frame for a small message).
struct BodySink {
  ByteStream& to;
  std::span<const std::uint8_t> prefix;
  bool last;
  std::vector<std::uint8_t> joined;

  Task<Result<void>> put(std::span<const std::uint8_t> bytes, bool done) {
    if (!prefix.empty()) {
      joined.assign(prefix.begin(), prefix.end());
      joined.insert(joined.end(), bytes.begin(), bytes.end());
      prefix = {};
      bytes = joined;
    }
    if (done && last) {
      last = false;
      auto r = co_await to.write_last(bytes);
      co_return r;
    }
    if (bytes.empty()) co_return Result<void>{};
    auto r = co_await to.write(bytes);
    co_return r;
  }
  // The body ended: what is still owed (the head alone, the end of the stream).
  Task<Result<void>> finish() {
    if (prefix.empty() && !last) co_return Result<void>{};
    auto r = co_await put({}, true);
    co_return r;
  }
};

}  // namespace

Task<Result<std::uint64_t>> MessageReader::copy_body(http1::BodyFramer& framer, ByteStream& to,
                                                     const std::function<void()>& on_progress,
                                                     std::span<const std::uint8_t> prefix, bool last) {
  BodySink sink{to, prefix, last, {}};
  std::uint64_t total = 0;
  if (!sink.prefix.empty() && pos_ == buf_.size() && !framer.done()) {
    // No body byte is here yet: the head goes now (the peer may wait for it: 100-continue, SSE).
    auto w = co_await sink.put({}, false);
    if (!w) co_return w.error();
  }
  while (!framer.done()) {
    if (pos_ < buf_.size()) {
      auto step = framer.feed(buffered());
      if (step.error) co_return make_error(Errc::protocol, "{}", step.error->message);
      if (step.consumed > 0) {
        auto w = co_await sink.put(std::span<const std::uint8_t>(buf_.data() + pos_, step.consumed), step.done);
        if (!w) co_return w.error();
        total += step.consumed;
        consume(step.consumed);
        if (on_progress) on_progress();
      }
      if (step.done) break;
      continue;
    }
    // Nothing buffered: frame the next chunk straight from the stream (no copy for bulk data).
    auto chunk = co_await s_.read();
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) {
      if (auto e = framer.at_eof()) co_return make_error(Errc::closed, "{}", e->message);
      break;
    }
    auto step = framer.feed(chunk->bytes());
    if (step.error) co_return make_error(Errc::protocol, "{}", step.error->message);
    if (step.consumed > 0) {
      auto w = co_await sink.put(chunk->bytes().first(step.consumed), step.done);
      if (!w) co_return w.error();
      total += step.consumed;
      if (on_progress) on_progress();
    }
    auto rest = chunk->bytes().subspan(step.consumed);
    buf_.insert(buf_.end(), rest.begin(), rest.end());
  }
  auto f = co_await sink.finish();
  if (!f) co_return f.error();
  co_return total;
}

}  // namespace porthole::net
