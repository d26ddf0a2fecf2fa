// Evaluation: the first rule (in file order) whose conditions all hold runs its actions.
#include <re2/re2.h>

#include <cctype>

#include "policy/basic_auth.hpp"
#include "core/ascii.hpp"
#include "policy/jwt_action.hpp"
#include "policy/oidc.hpp"
#include "policy/policy.hpp"
#include "policy/rate_limit.hpp"
#include "policy/request_parts.hpp"
#include "policy/webhook.hpp"

namespace porthole::policy {

namespace {

std::string quote_list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += fmt::format("{}{}", out.empty() ? "" : ", ", s);
  return "[" + out + "]";
}

bool any_string(const std::vector<StrMatch>& ms, std::string_view s, const char* what, std::string* why) {
  for (const auto& m : ms) {
    if (m.test(s)) {
      if (why) *why = fmt::format("{} \"{}\" matches {}", what, s, m.describe());
      return true;
    }
  }
  if (why) *why = fmt::format("{} \"{}\" matches none of {} pattern(s)", what, s, ms.size());
  return false;
}

bool field_test(const FieldTest& f, const std::optional<std::string>& value, const char* what, std::string* why) {
  bool ok = false;
  switch (f.op) {
    case FieldTest::Op::present:
      ok = value.has_value();
      if (why) *why = fmt::format("{} {} is {}", what, f.name, ok ? "present" : "absent");
      return ok;
    case FieldTest::Op::absent:
      ok = !value.has_value();
      if (why) *why = fmt::format("{} {} is {}", what, f.name, ok ? "absent" : "present");
      return ok;
    case FieldTest::Op::equals:
    case FieldTest::Op::matches:
      ok = value && f.value.test(*value);
      if (why) *why = fmt::format("{} {} {} {}", what, f.name, ok ? "matches" : "does not match", f.value.describe());
      return ok;
  }
  return false;
}

// What conditions look at, worked out once per run, on first use: rules that test the path or the
// client address several times normalise and parse them once.
class Facts {
 public:
  explicit Facts(const Input& in) : in_(in) {}
  const std::string& path() {
    if (!path_) path_ = normalize_path(in_.target);
    return *path_;
  }
  const std::optional<Ip>& ip() {
    if (!ip_parsed_) {
      ip_parsed_ = true;
      if (auto r = Ip::parse(in_.ip)) ip_ = *r;
    }
    return ip_;
  }

 private:
  const Input& in_;
  std::optional<std::string> path_;
  bool ip_parsed_ = false;
  std::optional<Ip> ip_;
};

bool holds(const Condition& c, const Input& in, Facts& facts, std::string* why) {
  using K = Condition::Kind;
  switch (c.kind) {
    case K::ip:
    case K::not_ip: {
      const auto& ip = facts.ip();
      const bool in_set = ip && c.cidrs.contains(*ip);
      if (why) *why = fmt::format("client ip {} is {}in {}", in.ip, in_set ? "" : "not ", quote_list(c.words));
      return c.kind == K::ip ? in_set : !in_set;
    }
    case K::method:
      for (const auto& m : c.words) {
        if (m == in.method) {
          if (why) *why = fmt::format("method {} is in {}", in.method, quote_list(c.words));
          return true;
        }
      }
      if (why) *why = fmt::format("method {} is not in {}", in.method, quote_list(c.words));
      return false;
    case K::host:
      return any_string(c.strings, in.host, "host", why);
    case K::path:
      return any_string(c.strings, facts.path(), "path", why);
    case K::sni:
      return any_string(c.strings, in.sni, "sni", why);
    case K::mtls_subject:
      return any_string(c.strings, in.mtls_subject, "mtls subject", why);
    case K::query:
    case K::header:
      for (const auto& f : c.fields) {
        std::optional<std::string> v;
        if (c.kind == K::query) {
          v = query_param(in.target, f.name);
        } else if (const auto* h = find_header(in, f.name)) {
          v = std::string(h->value);
        }
        if (!field_test(f, v, c.kind == K::query ? "query" : "header", why)) return false;
      }
      return true;
    case K::time: {
      const bool ok = c.window.test(in.unix_seconds);
      if (why) *why = fmt::format("time {} the window", ok ? "is in" : "is outside");
      return ok;
    }
    case K::status:
      for (int s : c.statuses) {
        if (s == in.status) {
          if (why) *why = fmt::format("status {} is listed", in.status);
          return true;
        }
      }
      if (why) *why = fmt::format("status {} is not listed", in.status);
      return false;
  }
  return false;
}

void deny(Decision& d, int status, std::string reason, std::string counter) {
  d.allow = false;
  d.status = status;
  d.reason = std::move(reason);
  d.counter = std::move(counter);
}

std::string expand_redirect(const Action& a, const Input& in) {
  if (!a.keep_path) return a.to;
  std::string base = a.to;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + std::string(in.target.empty() ? "/" : in.target);
}

// Runs one action; false when it ended the phase (a deny or an answer of its own).
bool run(const Action& a, const Input& in, Decision& d, bool& stop) {
  using K = Action::Kind;
  switch (a.kind) {
    case K::allow:
      stop = true;
      return true;
    case K::deny:
      deny(d, a.status, a.body.empty() ? "denied by policy" : a.body, "rule");
      d.custom = !a.body.empty();
      d.body = a.body;
      return false;
    case K::custom_response:
      deny(d, a.status, "custom response", "custom_response");
      d.custom = true;
      d.body = a.body;
      d.response_headers = a.headers;
      return false;
    case K::redirect:
      deny(d, a.status, "redirect", "redirect");
      d.custom = true;
      d.response_headers = {{"Location", expand_redirect(a, in)}};
      return false;
    case K::url_rewrite: {
      // On the path as conditions saw it (normalised), the query kept as sent.
      const std::string_view cur = d.new_target ? std::string_view(*d.new_target) : in.target;
      const auto q = cur.find('?');
      std::string t = normalize_path(cur);
      RE2::Replace(&t, *a.from, a.to);
      if (q != std::string_view::npos) t += cur.substr(q);
      if (t.empty() || t.front() != '/') t.insert(t.begin(), '/');
      d.new_target = std::move(t);
      return true;
    }
    case K::add_headers:
      for (const auto& h : a.headers) d.add_headers.push_back(h);
      return true;
    case K::remove_headers:
      for (const auto& n : a.names) d.remove_headers.push_back(n);
      return true;
    case K::restrict_ips: {
      const bool denied = a.deny.contains(in.ip) || (a.has_allow && !a.allow.contains(in.ip));
      if (denied) {
        deny(d, 403, fmt::format("your address {} is not allowed", in.ip), "ip");
        return false;
      }
      return true;
    }
    case K::basic_auth: {
      const auto* h = find_header(in, "Authorization");
      std::string user = h ? a.auth->check(h->value) : std::string();
      if (user.empty()) {
        deny(d, 401, h ? "wrong user name or password" : "authentication required", h ? "basic_auth_bad" : "basic_auth_missing");
        d.custom = true;
        d.body = "401 Unauthorized\n";
        d.response_headers = {{"WWW-Authenticate", fmt::format("Basic realm=\"{}\", charset=\"UTF-8\"", a.auth->realm())}};
        return false;
      }
      d.identity = user;
      return true;
    }
    case K::verify_webhook: {
      if (in.body == nullptr) {
        d.needs_body = true;
        d.max_body = a.max_body;
        return false;
      }
      WebhookInput wi;
      wi.headers = &in.headers;
      wi.body = *in.body;
      const auto* host = find_header(in, "Host");  // with its port, as the sender wrote the URL
      const std::string url = fmt::format("{}://{}{}", in.scheme, host ? host->value : in.host, in.target);
      wi.url = url;
      wi.unix_seconds = in.unix_seconds;
      auto r = verify_webhook(*a.webhook, wi);
      if (!r.ok) {
        deny(d, 401, r.reason, r.counter);
        return false;
      }
      return true;
    }
    case K::jwt:
      return run_jwt(*a.jwt, in, d);
    case K::oidc:
      return run_oidc(a.oidc, in, d);
    case K::rate_limit: {
      if (in.probe) return true;
      if (d.rate_hits < in.rate_hits_done) {  // counted before the JWKS fetch this run follows
        ++d.rate_hits;
        return true;
      }
      std::string key;
      switch (a.limiter->key()) {
        case RateLimiter::Key::ip:
          key = std::string(in.ip);
          break;
        case RateLimiter::Key::header:
          if (const auto* h = find_header(in, a.limiter->header())) key = std::string(h->value);
          break;
        case RateLimiter::Key::identity:
          key = !d.identity.empty() ? d.identity : std::string(in.identity);
          break;
      }
      if (key.size() > 256) key.resize(256);
      const auto wait = a.limiter->hit(key, in.now_ms);
      if (wait > 0) {
        const auto secs = (wait + 999) / 1000;
        deny(d, 429, fmt::format("rate limit of {} per {} ms exceeded", a.limiter->limit(), a.limiter->window_ms()),
             "rate_limit");
        d.custom = true;
        d.body = "429 Too Many Requests\n";
        d.response_headers = {{"Retry-After", std::to_string(secs)}};
        return false;
      }
      ++d.rate_hits;
      return true;
    }
  }
  return true;
}

}  // namespace

bool Policy::has_ip_allow_rule() const {
  for (const auto& r : rules(Phase::tcp_connect)) {
    for (const auto& c : r.when) {
      if (c.kind == Condition::Kind::not_ip) return true;
    }
    for (const auto& a : r.actions) {
      if (a.kind == Action::Kind::restrict_ips && a.has_allow) return true;
    }
  }
  return false;
}

Decision evaluate(const Policy& p, Phase phase, const Input& in, bool explain) {
  Decision d;
  std::string why;
  std::string* w = explain ? &why : nullptr;
  Facts facts(in);
  for (const auto& rule : p.rules(phase)) {
    bool match = true;
    std::string reasons;
    for (const auto& c : rule.when) {
      const bool ok = holds(c, in, facts, w);
      if (explain) reasons += fmt::format("{}{}", reasons.empty() ? "" : "; ", why);
      if (!ok) {
        match = false;
        break;
      }
    }
    if (explain) {
      d.trace.push_back(fmt::format("rule \"{}\" (line {}): {}{}", rule.name, rule.line, match ? "matches" : "no match",
                                    reasons.empty() ? (rule.when.empty() ? ": no conditions" : "")
                                                    : ": " + reasons));
    }
    if (!match) continue;
    d.rule = rule.name;
    bool stop = false;
    for (const auto& a : rule.actions) {
      if (!run(a, in, d, stop)) {
        if (d.needs_body) return d;
        if (explain && d.needs_keys) d.trace.push_back("  -> the JWKS must be fetched first");
        if (explain) {
          d.trace.push_back(d.status == 0 ? fmt::format("  -> close: {}", d.reason)
                                          : fmt::format("  -> answer {}: {}", d.status, d.reason));
        }
        return d;
      }
      if (stop) break;
    }
    if (stop || !rule.continue_after) return d;
  }
  return d;
}

}  // namespace porthole::policy
