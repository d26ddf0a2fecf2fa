// Parsers of forwarding rules (flags and rules files), range expansion and the reload diff.
// Input is untrusted text (a file anyone may have edited): every byte sequence is either a
// rule or a precise error, never a crash.
#include <algorithm>
#include <map>

#include "forward/rules.hpp"
#include "policy/cidr.hpp"

namespace porthole::forward {

namespace {

struct Token {
  std::string_view text;
  bool bracketed = false;  // was "[...]": an IPv6 literal
};

// Splits on ':' outside brackets: "[::1]:80:h:81" → "::1", "80", "h", "81".
Result<std::vector<Token>> split_colons(std::string_view s) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (true) {
    if (out.size() > 8) return make_error("too many ':'-separated parts");
    if (i < s.size() && s[i] == '[') {
      const auto close = s.find(']', i);
      if (close == std::string_view::npos) return make_error("'[' without ']'");
      out.push_back({s.substr(i + 1, close - i - 1), true});
      i = close + 1;
      if (i == s.size()) break;
      if (s[i] != ':') return make_error("']' must be followed by ':'");
      ++i;
      continue;
    }
    const auto colon = s.find(':', i);
    out.push_back({s.substr(i, colon == std::string_view::npos ? std::string_view::npos : colon - i), false});
    if (colon == std::string_view::npos) break;
    i = colon + 1;
  }
  return out;
}

// Printable ASCII only in messages (the text may be anything).
std::string shown(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 120)) {
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (s.size() > 120) out += "...";
  return out;
}

Result<std::string> parse_bind(const Token& t) {
  if (t.text == "localhost") return std::string(kDefaultBind);
  if (t.text == "*") return std::string("0.0.0.0");
  const bool has_colon = t.text.find(':') != std::string_view::npos;
  if (has_colon != t.bracketed) {
    return make_error("bind address '{}': write IPv6 addresses in brackets ([::1])", shown(t.text));
  }
  if (!policy::Ip::parse(t.text)) return make_error("bind address '{}' is not an IP address", shown(t.text));
  return std::string(t.text);
}

Result<std::string> parse_target_host(const Token& t) {
  if (t.text.empty()) return make_error("empty target host");
  if (t.bracketed || t.text.find(':') != std::string_view::npos) {
    if (!t.bracketed) return make_error("target '{}': write IPv6 addresses in brackets ([::1])", shown(t.text));
    if (!policy::Ip::parse(t.text)) return make_error("target '{}' is not an IPv6 address", shown(t.text));
    return std::string(t.text);
  }
  if (t.text.size() > 253) return make_error("target host name is longer than 253 characters");
  for (char c : t.text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '.' || c == '_';
    if (!ok) return make_error("target host '{}' is not a host name or address", shown(t.text));
  }
  return std::string(t.text);
}

Result<PortRange> parse_ports(std::string_view text, std::string_view what) {
  auto r = parse_port_range(text);
  if (!r) return make_error("{} '{}': expected PORT or LO-HI with ports 1..65535", what, shown(text));
  return *r;
}

Result<void> check_allow(const std::vector<std::string>& allow) {
  policy::CidrSet set;
  for (const auto& a : allow) {
    if (auto r = set.add(a); !r) return make_error("allow: {}", shown(r.error().message));
  }
  return {};
}

Result<void> check_lengths(const Rule& r) {
  const auto n = r.ports.hi - r.ports.lo;
  const auto m = r.target_ports.hi - r.target_ports.lo;
  if (m != 0 && m != n) {
    return make_error("port range {}-{} has {} ports but target range {}-{} has {} (give as many, or one target port)",
                      r.ports.lo, r.ports.hi, n + 1, r.target_ports.lo, r.target_ports.hi, m + 1);
  }
  return {};
}

// The listen part "[BIND:]PORT[-PORT]" and target part "HOST:PORT[-PORT]" into `r`.
Result<void> parse_listen(std::string_view text, Rule& r) {
  auto parts = split_colons(text);
  if (!parts) return make_error("listen address '{}': {}", shown(text), parts.error().message);
  if (parts->size() > 2) return make_error("listen address '{}': expected [BIND:]PORT[-PORT]", shown(text));
  if (parts->size() == 2) {
    auto b = parse_bind((*parts)[0]);
    if (!b) return b.error();
    r.bind_host = *b;
  }
  auto p = parse_ports(parts->back().text, "listen port");
  if (!p) return p.error();
  r.ports = *p;
  return {};
}

// "unix:/ABSOLUTE/PATH" as a rule's target: every listening port of the rule leads to that
// socket (TCP only: a unix stream socket). Paths with ':' cannot be written in a rule.
Result<void> parse_unix_target(std::string_view text, Rule& r) {
  auto at = parse_local_address(text, "");
  if (!at) return make_error("target '{}': {}", shown(text), at.error().message);
  if (r.proto != Proto::tcp) return make_error("target '{}': a unix socket is a stream socket: tcp rules only", shown(text));
  r.target_host = at->host;
  r.target_ports = PortRange{0, 0};
  return {};
}

bool is_unix_target(std::string_view text) { return text.starts_with(kUnixPrefix); }

Result<void> parse_target(std::string_view text, Rule& r) {
  if (is_unix_target(text)) return parse_unix_target(text, r);
  auto parts = split_colons(text);
  if (!parts) return make_error("target '{}': {}", shown(text), parts.error().message);
  if (parts->size() != 2) return make_error("target '{}': expected HOST:PORT[-PORT]", shown(text));
  auto h = parse_target_host((*parts)[0]);
  if (!h) return h.error();
  r.target_host = *h;
  auto p = parse_ports((*parts)[1].text, "target port");
  if (!p) return p.error();
  r.target_ports = *p;
  return {};
}

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const auto start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Result<Rule> parse_line(const std::vector<std::string_view>& w) {
  Rule r;
  if (w[0] == "tcp") {
    r.proto = Proto::tcp;
  } else if (w[0] == "udp") {
    r.proto = Proto::udp;
  } else {
    return make_error("'{}': a rule starts with tcp or udp", shown(w[0]));
  }
  if (w.size() < 3) return make_error("expected `{} [BIND:]PORT[-PORT] HOST:PORT[-PORT] [allow CIDR,...]`", w[0]);
  if (auto x = parse_listen(w[1], r); !x) return x.error();
  if (auto x = parse_target(w[2], r); !x) return x.error();
  for (std::size_t i = 3; i < w.size(); i += 2) {
    if (w[i] != "allow") return make_error("'{}': expected `allow CIDR,...` after the target", shown(w[i]));
    if (i + 1 >= w.size()) return make_error("allow: a comma-separated CIDR list is missing");
    std::string_view list = w[i + 1];
    while (!list.empty()) {
      const auto comma = list.find(',');
      const auto item = list.substr(0, comma);
      if (!item.empty()) r.allow.emplace_back(item);
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    }
    if (r.allow.empty()) return make_error("allow: the CIDR list is empty");
  }
  if (auto x = check_allow(r.allow); !x) return x.error();
  if (auto x = check_lengths(r); !x) return x.error();
  return r;
}

}  // namespace

std::string_view proto_name(Proto p) { return p == Proto::tcp ? "tcp" : "udp"; }

std::string Listener::key() const { return fmt::format("{} {}", proto_name(proto), format_host_port(bind_host, port)); }

Result<Rule> parse_rule_arg(std::string_view arg, Proto proto, const std::vector<std::string>& allow) {
  auto fail = [&](const Error& e) { return make_error("rule '{}': {}", shown(arg), e.message); };
  // "[BIND:]PORT[-PORT]:unix:/path": the listen part, then a unix socket.
  if (const auto u = arg.find(":unix:/"); u != std::string_view::npos) {
    Rule r;
    r.proto = proto;
    r.allow = allow;
    r.origin = fmt::format("rule '{}'", shown(arg));
    if (auto x = parse_listen(arg.substr(0, u), r); !x) return fail(x.error());
    if (auto x = parse_unix_target(arg.substr(u + 1), r); !x) return fail(x.error());
    if (auto x = check_allow(r.allow); !x) return fail(x.error());
    return r;
  }
  auto parts = split_colons(arg);
  if (!parts) return fail(parts.error());
  if (parts->size() != 3 && parts->size() != 4) {
    return fail(make_error("expected [BIND:]PORT:HOST:HOSTPORT or [BIND:]PORT:unix:/PATH"));
  }
  Rule r;
  r.proto = proto;
  r.allow = allow;
  r.origin = fmt::format("rule '{}'", shown(arg));
  const auto& p = *parts;
  const std::size_t at = p.size() - 3;
  if (at == 1) {
    auto b = parse_bind(p[0]);
    if (!b) return fail(b.error());
    r.bind_host = *b;
  }
  auto lp = parse_ports(p[at].text, "listen port");
  if (!lp) return fail(lp.error());
  r.ports = *lp;
  auto h = parse_target_host(p[at + 1]);
  if (!h) return fail(h.error());
  r.target_host = *h;
  auto tp = parse_ports(p[at + 2].text, "target port");
  if (!tp) return fail(tp.error());
  r.target_ports = *tp;
  if (auto x = check_allow(r.allow); !x) return fail(x.error());
  if (auto x = check_lengths(r); !x) return fail(x.error());
  return r;
}

Result<std::vector<Rule>> parse_rules_file(std::string_view text, std::string_view file_name) {
  std::vector<Rule> rules;
  std::string errors;
  std::size_t line_no = 0;
  while (!text.empty() || line_no == 0) {
    ++line_no;
    const auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const auto words = split_ws(line);
    if (words.empty()) {
      if (text.empty()) break;
      continue;
    }
    auto r = parse_line(words);
    if (!r) {
      errors += fmt::format("{}{}:{}: {}", errors.empty() ? "" : "\n", file_name, line_no, r.error().message);
      if (errors.size() > 16 * 1024) break;  // enough to read
      continue;
    }
    r->origin = fmt::format("{}:{}", file_name, line_no);
    rules.push_back(std::move(*r));
  }
  if (!errors.empty()) return Error{errors};
  return rules;
}

Result<std::vector<Listener>> expand(const std::vector<Rule>& rules) {
  std::vector<Listener> out;
  std::map<std::string, std::string> seen;  // key → origin
  for (const auto& r : rules) {
    const std::size_t n = static_cast<std::size_t>(r.ports.hi - r.ports.lo) + 1;
    if (out.size() + n > kMaxListeners) {
      return make_error("{}: more than {} listening ports in all", r.origin, kMaxListeners);
    }
    for (std::size_t i = 0; i < n; ++i) {
      Listener l;
      l.proto = r.proto;
      l.bind_host = r.bind_host;
      l.port = static_cast<std::uint16_t>(r.ports.lo + i);
      l.target_host = r.target_host;
      l.target_port = r.target_ports.lo == r.target_ports.hi ? r.target_ports.lo
                                                             : static_cast<std::uint16_t>(r.target_ports.lo + i);
      l.allow = r.allow;
      l.origin = r.origin;
      auto [it, fresh] = seen.emplace(l.key(), r.origin);
      if (!fresh) return make_error("{}: {} is already forwarded by {}", r.origin, l.key(), it->second);
      out.push_back(std::move(l));
    }
  }
  return out;
}

Diff diff(const std::vector<Listener>& old_set, const std::vector<Listener>& new_set) {
  Diff d;
  std::map<std::string, const Listener*> old_by_key;
  for (const auto& l : old_set) old_by_key.emplace(l.key(), &l);
  for (const auto& l : new_set) {
    auto it = old_by_key.find(l.key());
    if (it == old_by_key.end()) {
      d.added.push_back(l);
      continue;
    }
    if (it->second->same_behaviour(l)) {
      ++d.unchanged;
    } else {
      d.changed.push_back(l);
    }
    old_by_key.erase(it);
  }
  for (const auto& l : old_set) {
    if (old_by_key.contains(l.key())) d.removed.push_back(l);
  }
  return d;
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  auto ip = policy::Ip::parse(host);
  if (!ip) return false;
  static const std::array<std::uint8_t, 16> v6_loopback{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (ip->bytes == v6_loopback) return true;
  const bool mapped = std::all_of(ip->bytes.begin(), ip->bytes.begin() + 10, [](auto b) { return b == 0; }) &&
                      ip->bytes[10] == 0xff && ip->bytes[11] == 0xff;
  return mapped && ip->bytes[12] == 127;
}

}  // namespace porthole::forward
