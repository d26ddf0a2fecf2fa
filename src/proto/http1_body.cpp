// BodyFramer: follows a body's framing (RFC 9112 sections 6 and 7) while its bytes pass
// through unchanged, so that where it ends is known exactly and never guessed.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "proto/http1_internal.hpp"

namespace porthole::proto::http1 {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_ws(char c) {
  return c == ' ' || c == '\t';
}

std::string_view skip_ws(std::string_view s) {
  while (!s.empty() && is_ws(s.front())) s.remove_prefix(1);
  return s;
}

// A token at the front of s; empty when there is none.
std::string_view take_token(std::string_view& s) {
  std::size_t i = 0;
  while (i < s.size() && detail::is_tchar(static_cast<unsigned char>(s[i]))) ++i;
  const auto t = s.substr(0, i);
  s.remove_prefix(i);
  return t;
}

// quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE, at the front of s.
bool take_quoted(std::string_view& s) {
  std::size_t i = 1;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') {
      s.remove_prefix(i + 1);
      return true;
    }
    if (c == '\\') {
      if (++i == s.size()) return false;
      const auto e = static_cast<unsigned char>(s[i]);
      if ((e < 0x20 && e != '\t') || e == 0x7f) return false;
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return false;
    }
    ++i;
  }
  return false;
}

// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )
const char* check_chunk_ext(std::string_view s) {
  while (!s.empty()) {
    s = skip_ws(s);
    if (s.empty() || s.front() != ';') return "invalid chunk extension";
    s = skip_ws(s.substr(1));
    if (take_token(s).empty()) return "invalid chunk extension name";
    const auto after_name = skip_ws(s);
    if (after_name.empty() || after_name.front() != '=') {
      if (!after_name.empty() && after_name.front() != ';') return "invalid chunk extension";
      s = after_name;
      continue;
    }
    s = skip_ws(after_name.substr(1));
    if (!s.empty() && s.front() == '"') {
      if (!take_quoted(s)) return "invalid quoted string in chunk extension";
    } else if (take_token(s).empty()) {
      return "invalid chunk extension value";
    }
  }
  return nullptr;
}

}  // namespace

BodyFramer::BodyFramer(BodyKind kind, std::uint64_t content_length, const Limits& limits)
    : remaining_(content_length), limits_(limits) {
  switch (kind) {
    case BodyKind::none:
      state_ = State::done;
      break;
    case BodyKind::length:
      state_ = content_length == 0 ? State::done : State::length;
      break;
    case BodyKind::chunked:
      state_ = State::size_line;
      break;
    case BodyKind::until_close:
      state_ = State::until_close;
      break;
  }
}

void BodyFramer::fail(std::string message) {
  state_ = State::failed;
  error_ = ParseError{400, std::move(message)};
}

bool BodyFramer::take_line(std::span<const std::uint8_t> in, std::size_t& pos, std::string_view& line) {
  const auto* begin = reinterpret_cast<const char*>(in.data()) + pos;
  const std::size_t avail = in.size() - pos;  // > 0
  const auto* lf = static_cast<const char*>(std::memchr(begin, '\n', avail));
  const auto what = state_ == State::size_line ? "chunk-size line" : "trailer line";
  const auto too_long = [&] { fail(fmt::format("{} longer than {} bytes", what, limits_.max_chunk_line)); };
  if (lf == nullptr) {
    // So far; a CR at the end may be the line's own.
    const std::size_t content = line_.size() + avail - (begin[avail - 1] == '\r' ? 1 : 0);
    if (content > limits_.max_chunk_line) {
      too_long();
      return false;
    }
    line_.append(begin, avail);
    pos = in.size();
    return false;
  }
  const auto n = static_cast<std::size_t>(lf - begin);  // before the LF
  const char last = n > 0 ? begin[n - 1] : line_.empty() ? '\0' : line_.back();
  if (line_.size() + n - (last == '\r' ? 1 : 0) > limits_.max_chunk_line) {
    too_long();
    return false;
  }
  if (last != '\r') {
    fail(fmt::format("bare LF in {}", what));
    return false;
  }
  std::string_view whole(begin, n);
  if (!line_.empty()) {
    line_.append(begin, n);
    whole = line_;
  }
  pos += n + 1;
  line = whole.substr(0, whole.size() - 1);
  return true;
}

void BodyFramer::on_size_line(std::string_view line) {
  std::size_t digits = 0;
  std::uint64_t size = 0;
  while (digits < line.size() && hex_value(line[digits]) >= 0) {
    if (digits == 16) return fail("chunk size longer than 16 hex digits");
    size = size << 4 | static_cast<std::uint64_t>(hex_value(line[digits]));
    ++digits;
  }
  if (digits == 0) return fail(line.empty() ? "empty chunk-size line" : "invalid chunk size");
  const auto ext = line.substr(digits);
  if (ext.find('\r') != std::string_view::npos) return fail("bare CR in chunk-size line");
  if (auto e = check_chunk_ext(ext)) return fail(e);
  if (size == 0) {
    state_ = State::trailer_line;
  } else {
    remaining_ = size;
    state_ = State::data;
  }
}

void BodyFramer::on_trailer_line(std::string_view line) {
  trailer_bytes_ += line.size() + 2;
  if (trailer_bytes_ > limits_.max_trailers) {
    return fail(fmt::format("trailer section larger than {} bytes", limits_.max_trailers));
  }
  if (line.empty()) {
    state_ = State::done;
    return;
  }
  std::string_view name, value;
  if (auto e = detail::split_field_line(line, name, value)) return fail(std::string("in a trailer: ") + e);
}

BodyFramer::Step BodyFramer::feed(std::span<const std::uint8_t> in) {
  Step step;
  std::size_t pos = 0;
  while (pos < in.size() && state_ != State::done && state_ != State::failed) {
    switch (state_) {
      case State::length:
      case State::data: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = state_ == State::length ? State::done : State::data_cr;
        break;
      }
      case State::until_close:
        pos = in.size();
        break;
      case State::data_cr:
      case State::data_lf: {
        const std::uint8_t want = state_ == State::data_cr ? '\r' : '\n';
        if (in[pos] != want) {
          fail("missing CRLF after chunk data");
          break;
        }
        ++pos;
        state_ = state_ == State::data_cr ? State::data_lf : State::size_line;
        break;
      }
      case State::size_line:
      case State::trailer_line: {
        std::string_view line;
        if (!take_line(in, pos, line)) break;
        if (state_ == State::size_line) {
          on_size_line(line);
        } else {
          on_trailer_line(line);
        }
        line_.clear();
        break;
      }
      case State::done:
      case State::failed:
        break;
    }
  }
  step.consumed = pos;
  step.done = state_ == State::done;
  if (state_ == State::failed) step.error = error_;
  return step;
}

std::optional<ParseError> BodyFramer::at_eof() {
  switch (state_) {
    case State::done:
      return std::nullopt;
    case State::until_close:
      state_ = State::done;
      return std::nullopt;
    case State::failed:
      return error_;
    case State::length:
      fail(fmt::format("connection closed {} bytes before the end of the body", remaining_));
      break;
    default:
      fail("connection closed inside a chunked body");
      break;
  }
  return error_;
}

}  // namespace porthole::proto::http1
