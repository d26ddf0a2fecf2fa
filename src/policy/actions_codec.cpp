// The actions of a rule: the action-kind table and one reader per kind.
// Adding an action = one reader here, one line in kActions, and its case in evaluate.cpp.
#include <charconv>

#include "policy/basic_auth.hpp"
#include "policy/jwt_action.hpp"
#include "policy/jwt_codec.hpp"
#include "policy/oidc.hpp"
#include "policy/rate_limit.hpp"
#include "policy/reader.hpp"
#include "policy/webhook.hpp"

namespace porthole::policy::detail {

namespace {

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
      t.problem_at(t.take("headers"), "headers",
                   fmt::format("'{}' is not a header field a policy may remove", n));
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
  if (!safe_value(realm) || realm.find('"') != std::string::npos)
    t.problem_at(t.take("realm"), "realm", "no quotes or CR/LF");
  std::vector<BasicAuth::User> list;
  if (!t.strs("users", users)) {
    if (!t.has("users"))
      t.problem_at(nullptr, "users", "missing (\"USER:HASH\" from `porthole policy hash-password`)");
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
    if (!p)
      t.problem_at(t.take("rate"), "rate", p.error().message);
    else
      r = *p;
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
                 phase == Phase::tcp_connect ? "on_tcp_connect limits by \"ip\""
                                             : "expected ip, header:NAME or identity");
  }
  a.limiter = std::make_shared<RateLimiter>(r.first, r.second, k, header, static_cast<std::size_t>(max_keys));
}

void read_webhook(Tab& t, Phase, Action& a) {
  auto spec = std::make_shared<WebhookSpec>();
  std::string provider;
  if (t.str("provider", provider, true)) {
    auto p = webhook_provider(provider);
    if (!p)
      t.problem_at(t.take("provider"), "provider", p.error().message);
    else
      spec->provider = *p;
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

void read_oidc(Tab& t, Phase, Action& a) {  // oidc_codec.cpp
  for (auto k : kOidcKeys) t.take(k);
  read_oidc_action(t.table(), t.prefix(), t.out(), a);
}

struct ActionKind {
  std::string_view name;
  Action::Kind kind;
  ActionReader read;
  std::uint8_t phases;  // bit per Phase
};
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
    {"oidc", Action::Kind::oidc, read_oidc, 0b010},
};

}  // namespace

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
    t.problem_at(t.take("type"), "type",
                 fmt::format("'{}' cannot be used in {}", type, kPhaseNames[static_cast<int>(phase)]));
    return;
  }
  Action a{kind->kind};
  if (kind->read) kind->read(t, phase, a);
  t.finish();
  out.push_back(std::move(a));
}

}  // namespace porthole::policy::detail
