// Value spellings shared by config files and flags: durations, fingerprints, names, addresses.
#include <cctype>
#include <cstdint>
#include <filesystem>

#include "config/config.hpp"
#include "config/toml_codec.hpp"
#include "policy/dest_check.hpp"

namespace porthole::config {

namespace {

constexpr std::int64_t kMaxDurationMs = std::int64_t{30} * 24 * 3600 * 1000;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Milliseconds per unit, or 0 when `unit` is not one.
std::int64_t unit_ms(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 3600 * 1000;
  return 0;
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return make_error("invalid duration '{}': {} (write e.g. 10s, 500ms, 2m, 1h30m)", text, why);
  };
  if (text.empty()) return bad("empty");
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t n = 0;
    std::size_t start = i;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxDurationMs) return bad("too long");
    }
    if (i == start) return bad("expected a number");
    std::size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) != 0) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    if (unit.empty()) {
      if (start != 0 || i != text.size()) return bad("missing unit");
      unit = "s";  // a bare number is seconds
    }
    std::int64_t per = unit_ms(unit);
    if (per == 0) return bad(fmt::format("unknown unit '{}'", unit));
    if (n > kMaxDurationMs / per) return bad("too long");
    total += n * per;
    if (total > kMaxDurationMs) return bad("too long");
  }
  return std::chrono::milliseconds(total);
}

Result<std::string> normalize_fingerprint(std::string_view text) {
  std::string_view t = text;
  if (t.size() >= 7) {
    std::string head(t.substr(0, 7));
    for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (head == "sha256:") t.remove_prefix(7);
  }
  std::string out;
  for (char c : t) {
    if (c == ':') continue;
    if (std::isxdigit(static_cast<unsigned char>(c)) == 0) {
      return make_error("invalid fingerprint: expected 64 hex digits (SHA-256), colons allowed");
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (out.size() != 64) {
    return make_error("invalid fingerprint: expected 64 hex digits (SHA-256), got {}", out.size());
  }
  return out;
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (std::isalnum(static_cast<unsigned char>(name.front())) == 0) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

namespace detail {

Result<std::string> check_listen(std::string_view text, std::string_view default_host) {
  auto hp = parse_host_port(text, default_host, /*allow_zero=*/true);
  if (!hp) return hp.error();
  return format_host_port(*hp);
}

Result<std::string> check_dial(std::string_view text, std::string_view default_host) {
  auto hp = parse_host_port(text, default_host, /*allow_zero=*/false);
  if (!hp) return hp.error();
  return format_host_port(*hp);
}

Result<std::string> check_non_empty(std::string_view text) {
  if (text.empty()) return make_error("must not be empty");
  return std::string(text);
}

Result<std::string> check_secret(std::string_view text) {
  if (text.empty()) return make_error("must not be empty");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return make_error("must not contain spaces or control characters");
  }
  return std::string(text);
}

Result<std::string> check_name(std::string_view text) {
  if (!is_valid_name(text)) {
    return make_error("invalid name '{}' (1-63 of A-Z a-z 0-9 _ . -, starting with a letter or digit)", text);
  }
  return std::string(text);
}

Result<std::string> check_domain(std::string_view text) {
  if (text.empty() || text.size() > 253) return make_error("invalid domain (1-253 characters)");
  std::string out;
  std::size_t label = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    char c = i < text.size() ? text[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || out.back() == '-') {
        return make_error("invalid domain '{}' (labels of 1-63 letters, digits or -)", text);
      }
      if (i < text.size()) out.push_back('.');
      label = 0;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && !(c == '-' && label > 0)) {
      return make_error("invalid domain '{}' (labels of 1-63 letters, digits or -)", text);
    }
    out.push_back(static_cast<char>(std::tolower(u)));
    ++label;
  }
  return out;
}

Result<std::string> check_allow_dest(std::string_view text) {
  const std::string one(text);
  auto p = policy::DestPolicy::parse(std::span<const std::string>(&one, 1));
  if (!p) {
    std::string_view why = p.error().message;
    if (why.starts_with("--allow-dest ")) why.remove_prefix(13);
    return make_error("{}", why);
  }
  return one;
}

StringCheck check_path(const std::string& base_dir) {
  return [base_dir](std::string_view s) -> Result<std::string> {
    if (s.empty()) return make_error("must not be empty");
    if (s.find('\0') != std::string_view::npos) return make_error("must not contain NUL");
    std::filesystem::path p{std::string(s)};
    if (base_dir.empty() || p.is_absolute()) return std::string(s);
    return (std::filesystem::path(base_dir) / p).lexically_normal().string();
  };
}

void read_heartbeat(TableReader& t, Heartbeat& hb) {
  using std::chrono::seconds;
  bool has_interval = t.seconds("heartbeat_interval", hb.interval, seconds(1), seconds(3600));
  bool has_timeout = t.seconds("heartbeat_timeout", hb.timeout, seconds(1), seconds(3600));
  if ((has_interval || has_timeout) && hb.timeout <= hb.interval) {
    t.problem(has_timeout ? "heartbeat_timeout" : "heartbeat_interval",
              fmt::format("heartbeat_timeout ({}s) must be longer than heartbeat_interval ({}s)",
                          hb.timeout.count(), hb.interval.count()));
  }
}

}  // namespace detail
}  // namespace porthole::config
