// Character classes and small pieces of HTTP syntax (RFC 9110 section 5, RFC 3986 authority)
// shared by the head parser, the body framer and the forwarding helpers.
#include <arpa/inet.h>

#include <array>
#include <cstring>

#include "proto/http1.hpp"

namespace porthole::proto::http1::detail {

namespace {

// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" /
//         "~" / DIGIT / ALPHA
constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto kTchar = make_tchar_table();

// What a field value may hold: field-vchar (VCHAR / obs-text), SP and HTAB.
constexpr std::array<bool, 256> make_value_table() {
  std::array<bool, 256> t{};
  for (int c = 0x20; c <= 0xff; ++c) t[static_cast<std::size_t>(c)] = true;
  t[0x7f] = false;
  t['\t'] = true;
  return t;
}
constexpr auto kValue = make_value_table();

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_reg_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

const char* check_value(std::string_view value) {
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (kValue[c]) continue;
    if (c == 0) return "NUL in field value";
    if (c == '\r') return "bare CR in field value";
    return "control character in field value";
  }
  return nullptr;
}

// reg-name restricted to letters, digits, '-', '_' and dots between non-empty labels (one
// trailing dot allowed and dropped).
const char* parse_reg_name(std::string_view name, std::string& host) {
  if (name.empty()) return "empty host";
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  if (name == ".") return "empty host";
  host.resize(name.size());
  char prev = '.';
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (!is_reg_name_char(c)) return "invalid character in host";
    if (c == '.' && prev == '.') return "empty label in host";
    host[i] = lower(c);
    prev = c;
  }
  return nullptr;
}

const char* parse_ipv6(std::string_view literal, std::string& host) {
  // inet_pton wants a NUL-terminated string; no zone ids or IPvFuture.
  char text[INET6_ADDRSTRLEN] = {};
  if (literal.empty() || literal.size() >= sizeof text) return "invalid IPv6 address in host";
  for (char c : literal) {
    const bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
    if (!ok) return "invalid IPv6 address in host";
  }
  std::memcpy(text, literal.data(), literal.size());
  in6_addr addr{};
  if (inet_pton(AF_INET6, text, &addr) != 1) return "invalid IPv6 address in host";
  host.resize(literal.size());
  for (std::size_t i = 0; i < literal.size(); ++i) host[i] = lower(literal[i]);
  return nullptr;
}

}  // namespace

bool is_tchar(unsigned char c) {
  return kTchar[c];
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!kTchar[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* split_field_line(std::string_view line, std::string_view& name, std::string_view& value) {
  if (line.empty()) return "empty field line";
  if (line[0] == ' ' || line[0] == '\t') return "obs-fold (a field line starting with whitespace)";
  std::size_t i = 0;
  while (i < line.size() && kTchar[static_cast<unsigned char>(line[i])]) ++i;
  if (i == line.size()) return "missing colon in field line";
  if (line[i] != ':') {
    if (line[i] == ' ' || line[i] == '\t') {
      std::size_t j = i;
      while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
      if (j < line.size() && line[j] == ':') return "whitespace between field name and colon";
      return "whitespace in field name";
    }
    if (line[i] == '\r') return "bare CR in field name";
    return "invalid character in field name";
  }
  if (i == 0) return "empty field name";
  name = line.substr(0, i);
  value = trim_ows(line.substr(i + 1));
  return check_value(value);
}

const char* parse_authority(std::string_view authority, std::string& host, std::string& port) {
  host.clear();
  port.clear();
  if (authority.empty()) return "empty host";
  std::string_view rest;
  if (authority[0] == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "unterminated IPv6 literal in host";
    if (auto e = parse_ipv6(authority.substr(1, close - 1), host)) return e;
    rest = authority.substr(close + 1);
  } else {
    const auto colon = authority.find(':');
    if (auto e = parse_reg_name(authority.substr(0, colon), host)) return e;
    if (colon != std::string_view::npos) rest = authority.substr(colon);
  }
  if (rest.empty()) return nullptr;
  if (rest[0] != ':') return "invalid character after host";
  rest.remove_prefix(1);
  if (rest.empty()) return "empty port";
  if (rest.size() > 5) return "invalid port";
  unsigned value = 0;
  for (char c : rest) {
    if (c < '0' || c > '9') return "invalid port";
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 65535) return "invalid port";
  port.assign(rest);
  return nullptr;
}

}  // namespace porthole::proto::http1::detail
