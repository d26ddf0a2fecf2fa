// A rule's `when` table: conditions checked and compiled (CIDRs parsed, regexes compiled).
#include <cctype>

#include "policy/reader.hpp"

namespace porthole::policy::detail {

namespace {

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
        w.problem_at(w.take("days"), "days",
                     fmt::format("'{}' is not a day (mon, tue, wed, thu, fri, sat, sun)", d));
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

}  // namespace

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
        if (!is_token(m))
          t.problem_at(t.take("method"), "method", fmt::format("'{}' is not a method", m)), ok = false;
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

}  // namespace porthole::policy::detail
