// The policy's TOML form (docs/policy.md): every rule checked and compiled here (CIDRs parsed,
// regexes compiled with RE2), every problem reported with its line and key path.
#include <re2/re2.h>

#include <cctype>
#include <algorithm>
#include <charconv>
#include <sstream>

#include "policy/basic_auth.hpp"
#include "policy/codec.hpp"
#include "policy/jwt_action.hpp"
#include "policy/jwt_codec.hpp"
#include "policy/rate_limit.hpp"
#include "policy/webhook.hpp"

namespace porthole::policy {

namespace {

std::uint32_t line_of(const toml::node& n) { return n.source().begin.line; }

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    default: return "a date/time";
  }
}

constexpr std::size_t kMaxRules = 256;
constexpr std::size_t kMaxText = 16 * 1024;
constexpr std::size_t kMaxDocument = 48 * 1024;  // canonical form: it must fit a Bind (64 KiB frames)

// A strict reader over one table: keys asked for are known; the rest are reported.
class Tab {
 public:
  Tab(const toml::table& t, std::string prefix, std::vector<Problem>& out) : t_(t), prefix_(std::move(prefix)), out_(out) {}
  std::string path(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : fmt::format("{}.{}", prefix_, key);
  }
  const toml::node* take(std::string_view key) {
    known_.emplace_back(key);
    return t_.get(key);
  }
  void problem_at(const toml::node* n, std::string_view key, std::string text) {
    out_.push_back({n ? line_of(*n) : line_of(t_), path(key), std::move(text)});
  }
  bool has(std::string_view key) const { return t_.contains(key); }
  const toml::table& table() const { return t_; }
  std::uint32_t line() const { return line_of(t_); }
  std::vector<Problem>& out() { return out_; }
  const std::string& prefix() const { return prefix_; }

  bool str(std::string_view key, std::string& v, bool required = false) {
    const auto* n = take(key);
    if (n == nullptr) {
      if (required) problem_at(nullptr, key, "missing");
      return false;
    }
    if (!n->is_string()) {
      problem_at(n, key, fmt::format("expected a string, got {}", type_name(*n)));
      return false;
    }
    v = n->as_string()->get();
    if (v.size() > kMaxText) {
      problem_at(n, key, "too long");
      return false;
    }
    return true;
  }
  // A string or an array of strings.
  bool strs(std::string_view key, std::vector<std::string>& v) {
    const auto* n = take(key);
    if (n == nullptr) return false;
    if (n->is_string()) {
      v.push_back(n->as_string()->get());
      return true;
    }
    const auto* a = n->as_array();
    if (a == nullptr || a->empty()) {
      problem_at(n, key, a ? "empty list" : fmt::format("expected a string or a list of strings, got {}", type_name(*n)));
      return false;
    }
    for (const auto& e : *a) {
      if (!e.is_string()) {
        problem_at(&e, key, fmt::format("expected strings in the list, got {}", type_name(e)));
        return false;
      }
      v.push_back(e.as_string()->get());
    }
    return true;
  }
  bool integer(std::string_view key, std::int64_t& v, std::int64_t lo, std::int64_t hi) {
    const auto* n = take(key);
    if (n == nullptr) return false;
    if (!n->is_integer()) {
      problem_at(n, key, fmt::format("expected an integer, got {}", type_name(*n)));
      return false;
    }
    const auto x = n->as_integer()->get();
    if (x < lo || x > hi) {
      problem_at(n, key, fmt::format("{} is out of range {}..{}", x, lo, hi));
      return false;
    }
    v = x;
    return true;
  }
  bool boolean(std::string_view key, bool& v) {
    const auto* n = take(key);
    if (n == nullptr) return false;
    if (!n->is_boolean()) {
      problem_at(n, key, fmt::format("expected true or false, got {}", type_name(*n)));
      return false;
    }
    v = n->as_boolean()->get();
    return true;
  }
  void finish() {
    for (const auto& [k, n] : t_) {
      bool ok = false;
      for (const auto& x : known_) ok = ok || x == k.str();
      if (!ok) out_.push_back({line_of(n), path(k.str()), "unknown key"});
    }
  }

 private:
  const toml::table& t_;
  std::string prefix_;
  std::vector<Problem>& out_;
  std::vector<std::string> known_;
};

// An array of tables (or one table) under `key`: calls f(table, path) for each.
template <class F>
void each_table(Tab& t, std::string_view key, F f) {
  const auto* n = t.take(key);
  if (n == nullptr) return;
  if (const auto* tbl = n->as_table()) {
    f(*tbl, t.path(key));
    return;
  }
  const auto* a = n->as_array();
  if (a == nullptr) {
    t.problem_at(n, key, fmt::format("expected a table or a list of tables, got {}", type_name(*n)));
    return;
  }
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto* e = a->get(i)->as_table();
    if (e == nullptr) {
      t.problem_at(a->get(i), key, fmt::format("expected tables in the list, got {}", type_name(*a->get(i))));
      continue;
    }
    f(*e, fmt::format("{}[{}]", t.path(key), i));
  }
}

std::shared_ptr<const re2::RE2> compile_re(Tab& t, std::string_view key, const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(1 << 20);
  auto re = std::make_shared<re2::RE2>(pattern, o);
  if (!re->ok()) {
    t.problem_at(t.take(key), key, fmt::format("bad regular expression: {}", re->error()));
    return nullptr;
  }
  return re;
}

bool is_token(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) == 0 && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) return false;
  }
  return true;
}
// Fields a policy may not add or remove: they frame the message or route it.
bool reserved_field(std::string_view s) {
  static constexpr std::string_view names[] = {"content-length", "transfer-encoding", "host", "connection",
                                               "upgrade", "te", "trailer", "keep-alive", "proxy-connection"};
  for (auto n : names) {
    if (n.size() == s.size() &&
        std::equal(n.begin(), n.end(), s.begin(), [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      return true;
    }
  }
  return false;
}
bool safe_value(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

void read_strmatches(Tab& t, std::string_view key, StrMatch::Kind kind, bool fold, Condition::Kind ck,
                     std::vector<Condition>& out) {
  std::vector<std::string> v;
  if (!t.strs(key, v)) return;
  Condition c{ck};
  for (auto& s : v) {
    StrMatch m{kind, s, fold, nullptr};
    if (kind == StrMatch::Kind::regex) {
      m.re = compile_re(t, key, s);
      if (!m.re) return;
    }
    if (kind != StrMatch::Kind::regex && (ck == Condition::Kind::path) && (s.empty() || s.front() != '/')) {
      t.problem_at(t.take(key), key, fmt::format("'{}' must start with '/'", s));
      return;
    }
    c.strings.push_back(std::move(m));
  }
  out.push_back(std::move(c));
}

void read_fields(Tab& t, std::string_view key, Condition::Kind ck, std::vector<Condition>& out) {
  Condition c{ck};
  bool bad = false;
  each_table(t, key, [&](const toml::table& tbl, const std::string& path) {
    Tab f(tbl, path, t.out());
    FieldTest ft;
    if (!f.str("name", ft.name, true)) {
      bad = true;
    } else if (ck == Condition::Kind::header && !is_token(ft.name)) {
      f.problem_at(f.take("name"), "name", "not a header field name");
      bad = true;
    }
    bool flag = false;
    int ops = 0;
    if (f.boolean("present", flag)) {
      ft.op = flag ? FieldTest::Op::present : FieldTest::Op::absent;
      ++ops;
    }
    std::string v;
    if (f.str("equals", v)) {
      ft.op = FieldTest::Op::equals;
      ft.value = StrMatch{StrMatch::Kind::exact, v, false, nullptr};
      ++ops;
    }
    if (f.str("matches", v)) {
      ft.op = FieldTest::Op::matches;
      ft.value = StrMatch{StrMatch::Kind::regex, v, false, compile_re(f, "matches", v)};
      if (!ft.value.re) bad = true;
      ++ops;
    }
    if (ops > 1) {
      f.problem_at(nullptr, "present", "give one of present, equals, matches");
      bad = true;
    }
    f.finish();
    c.fields.push_back(std::move(ft));
  });
  if (!bad && !c.fields.empty()) out.push_back(std::move(c));
}

int parse_hhmm(std::string_view s) {
  if (s.size() != 5 || s[2] != ':' || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) || !std::isdigit(static_cast<unsigned char>(s[3])) ||
      !std::isdigit(static_cast<unsigned char>(s[4]))) {
    return -1;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return -1;
  return h * 60 + m;
}

void read_time(Tab& t, std::vector<Condition>& out) {
  const auto* n = t.take("time");
  if (n == nullptr) return;
  const auto* tbl = n->as_table();
  if (tbl == nullptr) {
    t.problem_at(n, "time", "expected a table {days, from, to, utc_offset}");
    return;
  }
  Tab w(*tbl, t.path("time"), t.out());
  Condition c{Condition::Kind::time};
  bool ok = true;
  std::vector<std::string> days;
  if (w.strs("days", days)) {
    static constexpr std::string_view names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    c.window.days = 0;
    for (auto& d : days) {
      int idx = -1;
      for (int i = 0; i < 7; ++i) {
        if (d == names[i]) idx = i;
      }
      if (idx < 0) {
        w.problem_at(w.take("days"), "days", fmt::format("'{}' is not a day (mon, tue, wed, thu, fri, sat, sun)", d));
        ok = false;
      } else {
        c.window.days |= static_cast<std::uint8_t>(1u << idx);
      }
    }
  }
  std::string s;
  if (w.str("from", s)) {
    c.window.from_min = parse_hhmm(s);
    if (c.window.from_min < 0) w.problem_at(w.take("from"), "from", "expected HH:MM"), ok = false;
  }
  if (w.str("to", s)) {
    c.window.to_min = parse_hhmm(s);
    if (c.window.to_min < 0) w.problem_at(w.take("to"), "to", "expected HH:MM"), ok = false;
  }
  if (w.str("utc_offset", s)) {
    const int v = s.size() == 6 && (s[0] == '+' || s[0] == '-') ? parse_hhmm(s.substr(1)) : -1;
    if (v < 0 || v > 14 * 60) {
      w.problem_at(w.take("utc_offset"), "utc_offset", "expected +HH:MM or -HH:MM");
      ok = false;
    } else {
      c.window.utc_offset_min = s[0] == '-' ? -v : v;
    }
  }
  w.finish();
  if (ok) out.push_back(c);
}

void read_cidrs(Tab& t, std::string_view key, Condition::Kind ck, std::vector<Condition>& out) {
  Condition c{ck};
  if (!t.strs(key, c.words)) return;
  for (const auto& w : c.words) {
    if (auto r = c.cidrs.add(w); !r) {
      t.problem_at(t.take(key), key, r.error().message);
      return;
    }
  }
  out.push_back(std::move(c));
}

void read_when(const toml::table& tbl, const std::string& path, Phase phase, std::vector<Problem>& probs,
               std::vector<Condition>& out) {
  Tab t(tbl, path, probs);
  using K = Condition::Kind;
  using M = StrMatch::Kind;
  read_cidrs(t, "ip", K::ip, out);
  read_cidrs(t, "not_ip", K::not_ip, out);
  read_strmatches(t, "sni", M::glob, true, K::sni, out);
  read_strmatches(t, "mtls_subject", M::glob, false, K::mtls_subject, out);
  read_time(t, out);
  if (phase == Phase::tcp_connect) {
    t.finish();
    return;
  }
  {
    Condition c{K::method};
    if (t.strs("method", c.words)) {
      bool ok = true;
      for (auto& m : c.words) {
        if (!is_token(m)) t.problem_at(t.take("method"), "method", fmt::format("'{}' is not a method", m)), ok = false;
      }
      if (ok) out.push_back(std::move(c));
    }
  }
  read_strmatches(t, "host", M::glob, true, K::host, out);
  read_strmatches(t, "path", M::exact, false, K::path, out);
  read_strmatches(t, "path_prefix", M::prefix, false, K::path, out);
  read_strmatches(t, "path_glob", M::glob, false, K::path, out);
  read_strmatches(t, "path_regex", M::regex, false, K::path, out);
  read_fields(t, "query", K::query, out);
  read_fields(t, "header", K::header, out);
  if (phase == Phase::http_response) {
    const auto* n = t.take("status");
    if (n != nullptr) {
      Condition c{K::status};
      auto add = [&](const toml::node& e) {
        if (!e.is_integer() || e.as_integer()->get() < 100 || e.as_integer()->get() > 599) {
          t.problem_at(&e, "status", "expected HTTP statuses (100..599)");
          return false;
        }
        c.statuses.push_back(static_cast<int>(e.as_integer()->get()));
        return true;
      };
      bool ok = true;
      if (const auto* a = n->as_array()) {
        for (const auto& e : *a) ok = ok && add(e);
      } else {
        ok = add(*n);
      }
      if (ok) out.push_back(std::move(c));
    }
  }
  t.finish();
}

void read_header_table(Tab& t, std::string_view key, std::vector<Header>& out) {
  const auto* n = t.take(key);
  if (n == nullptr) return;
  const auto* tbl = n->as_table();
  if (tbl == nullptr) {
    t.problem_at(n, key, "expected a table of NAME = \"value\"");
    return;
  }
  for (const auto& [k, v] : *tbl) {
    if (!is_token(k.str()) || reserved_field(k.str())) {
      t.problem_at(&v, key, fmt::format("'{}' is not a header field a policy may set", k.str()));
    } else if (!v.is_string() || !safe_value(v.as_string()->get())) {
      t.problem_at(&v, key, fmt::format("{}: expected a string without CR/LF", k.str()));
    } else {
      out.push_back({std::string(k.str()), v.as_string()->get()});
    }
  }
}

Result<std::pair<std::uint32_t, std::int64_t>> parse_rate(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return make_error("expected N/s, N/m or N/h");
  std::uint32_t n = 0;
  const auto num = s.substr(0, slash);
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  if (ec != std::errc() || p != num.data() + num.size() || n == 0 || n > 1000000) {
    return make_error("'{}' is not a count 1..1000000", num);
  }
  const auto unit = s.substr(slash + 1);
  std::int64_t ms = 0;
  if (unit == "s") ms = 1000;
  if (unit == "m") ms = 60000;
  if (unit == "h") ms = 3600000;
  if (ms == 0) return make_error("unit '{}': expected s, m or h", unit);
  return std::pair{n, ms};
}

using ActionReader = void (*)(Tab&, Phase, Action&);

void read_deny(Tab& t, Phase phase, Action& a) {
  std::int64_t st = 403;
  if (phase != Phase::tcp_connect) {
    t.integer("status", st, 400, 599);
    t.str("body", a.body);
  }
  a.status = phase == Phase::tcp_connect ? 0 : static_cast<int>(st);
}
void read_custom(Tab& t, Phase, Action& a) {
  std::int64_t st = 200;
  t.integer("status", st, 100, 599);
  a.status = static_cast<int>(st);
  t.str("body", a.body);
  std::string ct = "text/plain; charset=utf-8";
  t.str("content_type", ct);
  if (!safe_value(ct)) t.problem_at(t.take("content_type"), "content_type", "must not hold CR/LF");
  a.headers.push_back({"Content-Type", ct});
  read_header_table(t, "headers", a.headers);
}
void read_redirect(Tab& t, Phase, Action& a) {
  if (t.str("to", a.to, true) && (!safe_value(a.to) || a.to.empty() || a.to.find(' ') != std::string::npos)) {
    t.problem_at(t.take("to"), "to", "expected a URL (no spaces or CR/LF)");
  }
  std::int64_t st = 302;
  if (t.integer("status", st, 300, 399) && st != 301 && st != 302 && st != 303 && st != 307 && st != 308) {
    t.problem_at(t.take("status"), "status", "expected 301, 302, 303, 307 or 308");
  }
  a.status = static_cast<int>(st);
  t.boolean("keep_path", a.keep_path);
}
void read_rewrite(Tab& t, Phase, Action& a) {
  std::string from;
  if (t.str("from", from, true)) a.from = compile_re(t, "from", from);
  if (t.str("to", a.to, true) && !safe_value(a.to)) t.problem_at(t.take("to"), "to", "must not hold CR/LF");
  if (a.from) {
    std::string err;
    if (!a.from->CheckRewriteString(a.to, &err)) t.problem_at(t.take("to"), "to", err);
  }
}
void read_add_headers(Tab& t, Phase, Action& a) {
  read_header_table(t, "headers", a.headers);
  if (!t.has("headers")) t.problem_at(nullptr, "headers", "missing");
}
void read_remove_headers(Tab& t, Phase, Action& a) {
  if (!t.strs("headers", a.names)) {
    if (!t.has("headers")) t.problem_at(nullptr, "headers", "missing");
    return;
  }
  for (const auto& n : a.names) {
    if (!is_token(n) || reserved_field(n)) {
      t.problem_at(t.take("headers"), "headers", fmt::format("'{}' is not a header field a policy may remove", n));
    }
  }
}
void read_restrict(Tab& t, Phase, Action& a) {
  std::vector<std::string> v;
  if (t.strs("allow", v)) {
    a.has_allow = true;
    for (auto& c : v) {
      if (auto r = a.allow.add(c); !r) t.problem_at(t.take("allow"), "allow", r.error().message);
    }
  }
  v.clear();
  if (t.strs("deny", v)) {
    for (auto& c : v) {
      if (auto r = a.deny.add(c); !r) t.problem_at(t.take("deny"), "deny", r.error().message);
    }
  }
  if (!t.has("allow") && !t.has("deny")) t.problem_at(nullptr, "allow", "give allow, deny or both");
}
void read_basic_auth(Tab& t, Phase, Action& a) {
  std::vector<std::string> users;
  std::string realm = "porthole";
  t.str("realm", realm);
  if (!safe_value(realm) || realm.find('"') != std::string::npos) t.problem_at(t.take("realm"), "realm", "no quotes or CR/LF");
  std::vector<BasicAuth::User> list;
  if (!t.strs("users", users)) {
    if (!t.has("users")) t.problem_at(nullptr, "users", "missing (\"USER:HASH\" from `porthole policy hash-password`)");
  }
  for (const auto& u : users) {
    const auto colon = u.find(':');
    auto h = colon == std::string::npos ? Result<PasswordHash>(make_error("expected USER:HASH"))
                                        : PasswordHash::parse(std::string_view(u).substr(colon + 1));
    if (!h || colon == 0) {
      // The value may be a password typed in by mistake: never echoed.
      t.problem_at(t.take("users"), "users",
                   fmt::format("entry {}: {}", &u - users.data(), h ? "empty user name" : h.error().message));
      continue;
    }
    list.push_back({u.substr(0, colon), std::move(*h)});
  }
  a.auth = std::make_shared<BasicAuth>(std::move(list), realm);
}
void read_rate_limit(Tab& t, Phase phase, Action& a) {
  std::string rate, key = "ip";
  std::pair<std::uint32_t, std::int64_t> r{0, 0};
  if (t.str("rate", rate, true)) {
    auto p = parse_rate(rate);
    if (!p) t.problem_at(t.take("rate"), "rate", p.error().message);
    else r = *p;
  }
  std::int64_t max_keys = 16384;
  t.integer("max_keys", max_keys, 1, 1 << 20);
  t.str("key", key);
  auto k = RateLimiter::Key::ip;
  std::string header;
  if (key == "identity" && phase != Phase::tcp_connect) {
    k = RateLimiter::Key::identity;
  } else if (key.starts_with("header:") && phase != Phase::tcp_connect && is_token(key.substr(7))) {
    k = RateLimiter::Key::header;
    header = key.substr(7);
  } else if (key != "ip") {
    t.problem_at(t.take("key"), "key",
                 phase == Phase::tcp_connect ? "on_tcp_connect limits by \"ip\"" : "expected ip, header:NAME or identity");
  }
  a.limiter = std::make_shared<RateLimiter>(r.first, r.second, k, header, static_cast<std::size_t>(max_keys));
}

void read_webhook(Tab& t, Phase, Action& a) {
  auto spec = std::make_shared<WebhookSpec>();
  std::string provider;
  if (t.str("provider", provider, true)) {
    auto p = webhook_provider(provider);
    if (!p) t.problem_at(t.take("provider"), "provider", p.error().message);
    else spec->provider = *p;
  }
  t.str("secret", spec->secret, true);
  t.str("header", spec->header);
  t.str("algorithm", spec->algorithm);
  t.str("encoding", spec->encoding);
  t.str("prefix", spec->prefix);
  t.str("content", spec->content);
  t.str("timestamp_header", spec->timestamp_header);
  std::int64_t tol = spec->tolerance_s, max = static_cast<std::int64_t>(a.max_body);
  t.integer("tolerance", tol, 1, 86400);
  spec->tolerance_s = tol;
  if (t.integer("max_body", max, 1, 64 << 20)) a.max_body = static_cast<std::uint64_t>(max);
  if (!provider.empty() && !spec->secret.empty()) {
    if (auto r = check_webhook_spec(*spec); !r) t.problem_at(nullptr, "provider", r.error().message);
  }
  a.webhook = std::move(spec);
}

void read_jwt(Tab& t, Phase, Action& a) {  // jwt_codec.cpp
  for (auto k : kJwtKeys) t.take(k);
  read_jwt_action(t.table(), t.prefix(), t.out(), a);
}

struct ActionKind {
  std::string_view name;
  Action::Kind kind;
  ActionReader read;
  std::uint8_t phases;  // bit per Phase
};
// Adding an action = one line here plus its reader (and its case in evaluate.cpp).
constexpr ActionKind kActions[] = {
    {"allow", Action::Kind::allow, nullptr, 0b011},
    {"deny", Action::Kind::deny, read_deny, 0b011},
    {"custom-response", Action::Kind::custom_response, read_custom, 0b010},
    {"redirect", Action::Kind::redirect, read_redirect, 0b010},
    {"url-rewrite", Action::Kind::url_rewrite, read_rewrite, 0b010},
    {"add-headers", Action::Kind::add_headers, read_add_headers, 0b110},
    {"remove-headers", Action::Kind::remove_headers, read_remove_headers, 0b110},
    {"restrict-ips", Action::Kind::restrict_ips, read_restrict, 0b011},
    {"basic-auth", Action::Kind::basic_auth, read_basic_auth, 0b010},
    {"rate-limit", Action::Kind::rate_limit, read_rate_limit, 0b011},
    {"verify-webhook", Action::Kind::verify_webhook, read_webhook, 0b010},
    {"jwt", Action::Kind::jwt, read_jwt, 0b010},
};

void read_action(const toml::table& tbl, const std::string& path, Phase phase, std::vector<Problem>& probs,
                 std::vector<Action>& out) {
  Tab t(tbl, path, probs);
  std::string type;
  if (!t.str("type", type, true)) {
    t.finish();
    return;
  }
  const ActionKind* kind = nullptr;
  for (const auto& k : kActions) {
    if (k.name == type) kind = &k;
  }
  if (kind == nullptr) {
    std::string names;
    for (const auto& k : kActions) names += fmt::format("{}{}", names.empty() ? "" : ", ", k.name);
    t.problem_at(t.take("type"), "type", fmt::format("unknown action '{}' (one of: {})", type, names));
    return;
  }
  if ((kind->phases >> static_cast<int>(phase) & 1) == 0) {
    t.problem_at(t.take("type"), "type", fmt::format("'{}' cannot be used in {}", type, kPhaseNames[static_cast<int>(phase)]));
    return;
  }
  Action a{kind->kind};
  if (kind->read) kind->read(t, phase, a);
  t.finish();
  out.push_back(std::move(a));
}

void read_rules(Tab& root, Phase phase, Policy& p) {
  const auto key = kPhaseNames[static_cast<int>(phase)];
  auto& rules = p.phases[static_cast<int>(phase)];
  each_table(root, key, [&](const toml::table& tbl, const std::string& path) {
    Tab t(tbl, path, root.out());
    Rule r;
    r.line = t.line();
    if (t.str("name", r.name, true) && (r.name.empty() || r.name.size() > 128 || !safe_value(r.name))) {
      t.problem_at(t.take("name"), "name", "1..128 characters, no CR/LF");
    }
    for (const auto& other : rules) {
      if (!r.name.empty() && other.name == r.name) {
        t.problem_at(t.take("name"), "name", fmt::format("duplicate rule name '{}' (line {})", r.name, other.line));
      }
    }
    t.boolean("continue", r.continue_after);
    if (const auto* w = t.take("when")) {
      if (const auto* wt = w->as_table()) {
        read_when(*wt, t.path("when"), phase, root.out(), r.when);
      } else {
        t.problem_at(w, "when", fmt::format("expected a table of conditions, got {}", type_name(*w)));
      }
    }
    const std::size_t before = root.out().size();
    each_table(t, "actions", [&](const toml::table& at, const std::string& apath) {
      read_action(at, apath, phase, root.out(), r.actions);
    });
    if (!t.has("actions") && before == root.out().size()) t.problem_at(nullptr, "actions", "missing (a rule needs actions)");
    t.finish();
    if (rules.size() >= kMaxRules) {
      t.problem_at(nullptr, "name", fmt::format("more than {} rules in {}", kMaxRules, key));
      return;
    }
    rules.push_back(std::move(r));
  });
}

}  // namespace

std::shared_ptr<Policy> read_policy(const toml::table& t, std::string_view prefix, std::vector<Problem>& problems) {
  auto p = std::make_shared<Policy>();
  Tab root(t, std::string(prefix), problems);
  std::int64_t version = 1;
  root.integer("version", version, 1, 1);
  for (int i = 0; i < 3; ++i) read_rules(root, static_cast<Phase>(i), *p);
  for (const auto& r : p->rules(Phase::http_request)) {
    for (const auto& a : r.actions) p->needs_body = p->needs_body || a.kind == Action::Kind::verify_webhook;
    for (const auto& a : r.actions) {
      for (const auto& f : a.jwt ? a.jwt->forward : std::vector<JwtSpec::Forward>{}) p->protected_headers.push_back(f.header);
    }
  }
  root.finish();
  std::ostringstream os;
  os << toml::toml_formatter(t, toml::format_flags::none);
  p->canonical = os.str();
  if (p->canonical.size() > kMaxDocument) {
    problems.push_back({line_of(t), std::string(prefix), fmt::format("the policy is larger than {} KiB", kMaxDocument / 1024)});
  }
  return p;
}

}  // namespace porthole::policy
