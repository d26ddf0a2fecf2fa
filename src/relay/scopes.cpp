#include "relay/scopes.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace porthole::relay {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Globs of [A-Za-z0-9*?.-], and '_' when `underscore`.
Result<void> check_glob_list(std::string_view what, std::string_view list, bool underscore = true) {
  if (list.size() > 1024) return make_error("{}: too long", what);
  std::size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto glob = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (glob.empty()) return make_error("{} '{}': empty pattern in the list", what, list);
    for (char c : glob) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                c == '.' || (c == '_' && underscore) || c == '*' || c == '?';
      if (!ok) {
        return make_error("{} '{}': unexpected character '{}' (letters, digits, - .{} * ?)", what, list, c,
                          underscore ? " _" : "");
      }
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return {};
}

}  // namespace

// Iterative matcher with single back-tracking point: linear in practice, no recursion.
bool glob_match(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || lower(pattern[p]) == lower(text[t]))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool glob_list_match(std::string_view list, std::string_view text) {
  if (list.empty()) return true;
  std::size_t start = 0;
  while (true) {
    auto comma = list.find(',', start);
    auto glob = list.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (glob_match(glob, text)) return true;
    if (comma == std::string_view::npos) return false;
    start = comma + 1;
  }
}

bool subdomain_allowed(const Scopes& s, std::string_view subdomain) {
  return glob_list_match(s.allow_subdomain, subdomain);
}

bool port_allowed(const Scopes& s, std::uint16_t port) {
  return !s.allow_port || s.allow_port->contains(port);
}

bool private_allowed(const Scopes& s, std::string_view name) {
  return glob_list_match(s.allow_private, name);
}

bool connect_allowed(const Scopes& s, std::string_view name, bool own) {
  return own || (!s.allow_connect.empty() && glob_list_match(s.allow_connect, name));
}

bool exit_allowed(const Scopes& s, std::string_view name, bool own) {
  if (!s.allow_exit.empty() && glob_list_match(s.allow_exit, name)) return true;
  if (name == "relay") return false;
  return own || (!s.allow_connect.empty() && glob_list_match(s.allow_connect, name));
}

bool hostname_allowed(const Scopes& s, std::string_view host) {
  if (s.allow_hostname.empty()) return true;
  if (!host.starts_with("*.")) return glob_list_match(s.allow_hostname, host);
  // "*R" matches every name ending in ".S" exactly when R matches a suffix of ".S".
  const auto dot_suffix = host.substr(1);
  std::string_view list = s.allow_hostname;
  while (true) {
    auto comma = list.find(',');
    auto glob = list.substr(0, comma);
    if (glob.starts_with('*') && glob_match(glob, dot_suffix)) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

std::optional<PortRange> allowed_port_range(const Scopes& s, PortRange relay_range) {
  if (!s.allow_port) return relay_range;
  PortRange r{std::max(s.allow_port->lo, relay_range.lo), std::min(s.allow_port->hi, relay_range.hi)};
  if (r.lo > r.hi) return std::nullopt;
  return r;
}

Result<Scopes> parse_scopes(std::string_view allow_subdomain, std::string_view allow_port,
                            std::string_view allow_private, std::string_view allow_hostname,
                            std::string_view allow_connect, std::string_view allow_exit) {
  Scopes s;
  if (!allow_exit.empty()) {
    if (auto r = check_glob_list("--allow-exit", allow_exit); !r) return r.error();
    s.allow_exit = allow_exit;
  }
  if (!allow_connect.empty()) {
    if (auto r = check_glob_list("--allow-connect", allow_connect); !r) return r.error();
    s.allow_connect = allow_connect;
  }
  if (!allow_subdomain.empty()) {
    if (auto r = check_glob_list("--allow-subdomain", allow_subdomain); !r) return r.error();
    s.allow_subdomain = allow_subdomain;
  }
  if (!allow_port.empty()) {
    auto r = parse_port_range(allow_port);
    if (!r) return make_error("--allow-port: {}", r.error().message);
    s.allow_port = *r;
  }
  if (!allow_private.empty()) {
    if (auto r = check_glob_list("--allow-private", allow_private); !r) return r.error();
    s.allow_private = allow_private;
  }
  if (!allow_hostname.empty()) {
    if (auto r = check_glob_list("--allow-hostname", allow_hostname, /*underscore=*/false); !r)
      return r.error();
    s.allow_hostname = allow_hostname;
  }
  return s;
}

std::string format_port_scope(const std::optional<PortRange>& r) {
  if (!r) return "";
  return r->lo == r->hi ? fmt::format("{}", r->lo) : fmt::format("{}-{}", r->lo, r->hi);
}

std::string describe(const Scopes& s) {
  std::string out;
  auto add = [&out](std::string_view k, std::string_view v) {
    if (v.empty()) return;
    if (!out.empty()) out += ' ';
    out += fmt::format("{}={}", k, v);
  };
  add("subdomain", s.allow_subdomain);
  add("hostname", s.allow_hostname);
  add("port", format_port_scope(s.allow_port));
  add("private", s.allow_private);
  add("connect", s.allow_connect);
  add("exit", s.allow_exit);
  return out.empty() ? "any" : out;
}

}  // namespace porthole::relay
