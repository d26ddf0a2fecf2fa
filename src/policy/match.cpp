// Condition building blocks: string matches, time windows, path normalisation.
#include <re2/re2.h>

#include <cctype>

#include "core/ascii.hpp"
#include "policy/policy.hpp"
#include "policy/request_parts.hpp"

namespace porthole::policy {

namespace {

char fold(char c, bool on) { return on ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c; }

bool equal(std::string_view a, std::string_view b, bool f) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (fold(a[i], f) != fold(b[i], f)) return false;
  }
  return true;
}

// `*` any run (also empty), `?` one character; iterative with one backtrack point.
bool glob(std::string_view pat, std::string_view s, bool f) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || fold(pat[p], f) == fold(s[i], f)) && pat[p] != '*') {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

}  // namespace

bool StrMatch::test(std::string_view s) const {
  switch (kind) {
    case Kind::exact:
      return equal(text, s, fold_case);
    case Kind::prefix:
      return s.size() >= text.size() && equal(text, s.substr(0, text.size()), fold_case);
    case Kind::glob:
      return glob(text, s, fold_case);
    case Kind::regex:
      return re && RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *re);
  }
  return false;
}

std::string StrMatch::describe() const {
  static constexpr std::string_view names[] = {"exact", "prefix", "glob", "regex"};
  return fmt::format("{} \"{}\"", names[static_cast<int>(kind)], text);
}

bool TimeWindow::test(std::int64_t unix_seconds) const {
  const std::int64_t local = unix_seconds + std::int64_t{utc_offset_min} * 60;
  std::int64_t days_since = local >= 0 ? local / 86400 : (local - 86399) / 86400;
  const int minute = static_cast<int>((local - days_since * 86400) / 60);
  // 1970-01-01 was a Thursday (Monday = 0).
  const int dow = static_cast<int>(((days_since % 7) + 7 + 3) % 7);
  auto day_ok = [&](int d) { return (days >> ((d + 7) % 7) & 1) != 0; };
  if (from_min <= to_min) return day_ok(dow) && minute >= from_min && minute < to_min;
  // Overnight: the evening part belongs to its day, the morning part to the day before.
  if (minute >= from_min) return day_ok(dow);
  if (minute < to_min) return day_ok(dow - 1);
  return false;
}

std::string normalize_path(std::string_view target) {
  const auto q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  const auto hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  // Decode %XX of unreserved characters (they mean the same either way, RFC 3986 2.3); other
  // escapes stay, with uppercase hex.
  std::string decoded;
  decoded.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '%' && i + 2 < target.size()) {
      const int hi = hexval(target[i + 1]), lo = hexval(target[i + 2]);
      if (hi >= 0 && lo >= 0) {
        const char c = static_cast<char>(hi * 16 + lo);
        if (unreserved(c)) {
          decoded += c;
        } else {
          decoded += '%';
          decoded += static_cast<char>(std::toupper(static_cast<unsigned char>(target[i + 1])));
          decoded += static_cast<char>(std::toupper(static_cast<unsigned char>(target[i + 2])));
        }
        i += 2;
        continue;
      }
    }
    decoded += target[i];
  }
  // Remove dot segments (RFC 3986 5.2.4) and empty segments' doubling ("//" → "/").
  std::vector<std::string_view> segs;
  std::string_view rest = decoded;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  bool trailing = false;
  while (true) {
    const auto slash = rest.find('/');
    const auto seg = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    if (seg == "..") {
      if (!segs.empty()) segs.pop_back();
      trailing = last;
    } else if (seg == "." || seg.empty()) {
      trailing = last;
    } else {
      segs.push_back(seg);
      trailing = false;
    }
    if (last) break;
    rest = rest.substr(slash + 1);
  }
  std::string out;
  for (auto s : segs) {
    out += '/';
    out += s;
  }
  if (out.empty() || trailing) out += '/';
  return out;
}

const HeaderRef* find_header(const Input& in, std::string_view name) {
  for (const auto& h : in.headers) {
    if (iequals(h.name, name)) return &h;
  }
  return nullptr;
}

std::optional<std::string_view> find_cookie(const Input& in, std::string_view name) {
  for (const auto& h : in.headers) {
    if (!iequals(h.name, "Cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      const auto item = trim_ows(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const auto eq = item.find('=');
      if (eq != std::string_view::npos && item.substr(0, eq) == name) return trim_ows(item.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      out += static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  auto rest = target.substr(q + 1);
  const auto hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const auto eq = item.find('=');
    if (url_decode(item.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : url_decode(item.substr(eq + 1));
    }
  }
  return std::nullopt;
}

}  // namespace porthole::policy
