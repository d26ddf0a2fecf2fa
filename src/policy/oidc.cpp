// The oidc action at evaluation time (oidc.hpp): sessions, the login redirect, the callback,
// logout; and the end of a login once the relay exchanged the code.
#include "policy/oidc.hpp"

#include <openssl/crypto.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/ascii.hpp"
#include "policy/oidc_session.hpp"
#include "policy/request_parts.hpp"

namespace porthole::policy {

namespace {

std::string login_cookie_name(const OidcSpec& spec);

// Every cookie of the request but the action's session and login cookies, as one Cookie value.
std::string other_cookies(const Input& in, const OidcSpec& spec) {
  const auto login = login_cookie_name(spec);
  std::string out;
  for (const auto& h : in.headers) {
    if (!iequals(h.name, "Cookie")) continue;
    std::string_view rest = h.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      const auto item = trim_ows(rest.substr(0, semi));
      rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
      const auto name = item.substr(0, item.find('='));
      if (item.empty() || name == spec.cookie_name || name == login) continue;
      out += fmt::format("{}{}", out.empty() ? "" : "; ", item);
    }
  }
  return out;
}

bool same_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

// Printable ASCII only (a reason may hold what the provider sent).
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 128));
  for (auto& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) c = '?';
  }
  return out;
}

void answer(Decision& d, int status, std::string counter, std::string reason) {
  d.allow = false;
  d.status = status;
  d.counter = std::move(counter);
  d.reason = std::move(reason);
}

std::string set_cookie(std::string_view name, std::string_view value, std::int64_t max_age) {
  return fmt::format("{}={}; Path=/; Max-Age={}; Secure; HttpOnly; SameSite=Lax", name, value, max_age);
}

std::string login_cookie_name(const OidcSpec& spec) { return spec.cookie_name + "_login"; }
std::string login_aad(std::string_view host) { return fmt::format("login {}", host); }

// https://HOST[:PORT] as the visitor reached us (the port from the Host header, digits only).
std::string origin_of(const Input& in) {
  std::string port;
  if (const auto* h = find_header(in, "Host")) {
    const auto v = h->value;
    const auto colon = v.rfind(':');
    if (colon != std::string_view::npos && v.find(']', colon) == std::string_view::npos) {
      const auto p = v.substr(colon + 1);
      if (!p.empty() && p.size() <= 5 && p.find_first_not_of("0123456789") == std::string_view::npos && p != "443") {
        port = fmt::format(":{}", p);
      }
    }
  }
  const bool v6 = in.host.find(':') != std::string_view::npos;
  return fmt::format("https://{}{}{}{}", v6 ? "[" : "", in.host, v6 ? "]" : "", port);
}

bool callback(const std::shared_ptr<const OidcSpec>& sp, const Input& in, Decision& d) {
  const auto& spec = *sp;
  if (auto err = query_param(in.target, "error")) {
    answer(d, 401, "oidc_provider_error", fmt::format("the identity provider refused the login: {}", printable(*err)));
    return false;
  }
  const auto code = query_param(in.target, "code");
  const auto state = query_param(in.target, "state");
  const auto login = find_cookie(in, login_cookie_name(spec));
  std::optional<std::string> plain;
  if (login) plain = spec.provider->sealer->open_text(*login, login_aad(in.host));
  nlohmann::json j;
  if (plain) j = nlohmann::json::parse(*plain, nullptr, false);
  if (!plain || !j.is_object() || !j.contains("st") || !j["st"].is_string() || !j.contains("nc") ||
      !j["nc"].is_string() || !j.contains("cv") || !j["cv"].is_string() || !j.contains("rd") || !j["rd"].is_string() ||
      !j.contains("exp") || !j["exp"].is_number_integer()) {
    answer(d, 400, "oidc_state", "no login is in progress here (or its cookie is not this host's)");
    return false;
  }
  if (j["exp"].get<std::int64_t>() <= in.unix_seconds) {
    answer(d, 400, "oidc_state", "the login took too long: start again");
    return false;
  }
  if (!code || code->empty() || code->size() > 4096 || !state || !same_secret(*state, j["st"].get<std::string>())) {
    answer(d, 400, "oidc_state", "the state of the callback does not match the login");
    return false;
  }
  auto x = std::make_shared<OidcExchange>();
  x->spec = sp;
  x->code = *code;
  x->verifier = j["cv"].get<std::string>();
  x->nonce = j["nc"].get<std::string>();
  x->return_to = safe_return_path(j["rd"].get<std::string>());
  x->redirect_uri = origin_of(in) + spec.callback_path;
  x->host = std::string(in.host);
  d.oidc_exchange = std::move(x);
  answer(d, 502, "oidc_token", "the code must be exchanged first");
  return false;
}

}  // namespace

std::shared_ptr<const OidcDiscovery> OidcProvider::discovery() const {
  std::lock_guard lock(mu_);
  return discovery_;
}
std::shared_ptr<JwksSource> OidcProvider::jwks() const {
  std::lock_guard lock(mu_);
  return jwks_;
}
bool OidcProvider::wants_fetch(std::int64_t now_ms) const {
  std::lock_guard lock(mu_);
  return !discovery_ && !in_flight_ && (last_attempt_ms_ < 0 || now_ms - last_attempt_ms_ >= 10000);
}
bool OidcProvider::begin_fetch(std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (discovery_ || in_flight_ || (last_attempt_ms_ >= 0 && now_ms - last_attempt_ms_ < 10000)) return false;
  in_flight_ = true;
  last_attempt_ms_ = now_ms;
  return true;
}
void OidcProvider::fetch_done(OidcDiscovery d) {
  auto jwks = std::make_shared<JwksSource>(d.jwks_uri, 60);
  jwks->ca_file = ca_file;
  jwks->fetch_allow = fetch_allow;
  std::lock_guard lock(mu_);
  in_flight_ = false;
  last_error_.clear();
  discovery_ = std::make_shared<const OidcDiscovery>(std::move(d));
  jwks_ = std::move(jwks);
}
void OidcProvider::fetch_failed(std::string why) {
  std::lock_guard lock(mu_);
  in_flight_ = false;
  last_error_ = std::move(why);
}
std::string OidcProvider::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

std::string form_encode(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

std::string safe_return_path(std::string_view t) {
  if (t.empty() || t.size() > 2048 || t.front() != '/' || t.starts_with("//") || t.starts_with("/\\")) return "/";
  for (char c : t) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '\\') return "/";
  }
  return std::string(t);
}

bool oidc_user_allowed(const OidcSpec& spec, std::string_view sub, std::string_view email) {
  if (spec.allowed_domains.empty() && spec.allowed_users.empty()) return true;
  const auto mail = lower(email);
  for (const auto& u : spec.allowed_users) {
    if (u == sub || (!mail.empty() && u == mail)) return true;
  }
  const auto at = mail.rfind('@');
  if (at == std::string::npos || at == 0) return false;
  const auto domain = std::string_view(mail).substr(at + 1);
  for (const auto& d : spec.allowed_domains) {
    if (d == domain) return true;
  }
  return false;
}

bool run_oidc(const std::shared_ptr<const OidcSpec>& sp, const Input& in, Decision& d) {
  if (in.probe) return true;  // the real run (after a webhook body was read) checks it
  const auto& spec = *sp;
  auto& prov = *spec.provider;
  if (in.scheme != "https") {
    answer(d, 403, "oidc_insecure", "this endpoint's login needs https (the session cookie is Secure)");
    return false;
  }
  if (!prov.sealer) {
    answer(d, 503, "oidc_unavailable", "the relay has no session cookie key");
    return false;
  }
  const auto path = normalize_path(in.target);
  if (path == spec.logout_path) {
    answer(d, 302, "oidc_logout", "logged out");
    d.custom = true;
    d.response_headers = {{"Location", "/"}, {"Set-Cookie", set_cookie(spec.cookie_name, "", 0)}};
    return false;
  }
  if (path == spec.callback_path) return callback(sp, in, d);
  const auto c = find_cookie(in, spec.cookie_name);
  if (c && !c->empty()) {
    if (auto s = prov.sealer->open(*c, in.host, in.unix_seconds)) {
      d.identity = s->email.empty() ? s->subject : s->email;
      d.remove_headers.push_back(spec.email_header);
      if (!s->email.empty()) d.add_headers.push_back({spec.email_header, s->email});
      // The relay's own cookies stay at the relay: the upstream gets the visitor's others.
      const auto rest = other_cookies(in, spec);
      d.remove_headers.push_back("Cookie");
      if (!rest.empty()) d.add_headers.push_back({"Cookie", rest});
      return true;
    }
  }
  const std::string counter = c && !c->empty() ? "oidc_session_invalid" : "oidc_login_required";
  const auto* accept = find_header(in, "Accept");
  const bool browser = accept != nullptr && accept->value.find("text/html") != std::string_view::npos &&
                       (in.method == "GET" || in.method == "HEAD");
  if (!browser) {
    answer(d, 401, counter, "log in with a browser first (no valid session cookie)");
    d.custom = true;
    d.body = "401 Unauthorized: log in with a browser first\n";
    return false;
  }
  const auto disc = prov.discovery();
  if (!disc) {
    if (!in.keys_refreshed && prov.wants_fetch(in.now_ms)) d.needs_discovery = spec.provider;
    const auto why = prov.last_error();
    answer(d, 503, "oidc_provider_unavailable",
           why.empty() ? "the identity provider's discovery document is not fetched yet"
                       : fmt::format("the identity provider is unavailable: {}", why));
    return false;
  }
  const auto state = random_token(), nonce = random_token(), verifier = random_token();
  const std::string rd = in.target.size() <= 1024 ? safe_return_path(in.target) : "/";
  const auto login = prov.sealer->seal_text(
      nlohmann::json{{"st", state}, {"nc", nonce}, {"cv", verifier}, {"rd", rd}, {"exp", in.unix_seconds + kLoginCookieLifetime}}
          .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace),
      login_aad(in.host));
  if (state.empty() || login.empty()) {
    answer(d, 500, "oidc_unavailable", "could not start a login");
    return false;
  }
  const char sep = disc->authorization_endpoint.find('?') == std::string::npos ? '?' : '&';
  const auto url = fmt::format(
      "{}{}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}&code_challenge={}"
      "&code_challenge_method=S256",
      disc->authorization_endpoint, sep, form_encode(spec.client_id), form_encode(origin_of(in) + spec.callback_path),
      form_encode(spec.scopes), state, nonce, pkce_s256(verifier));
  answer(d, 302, counter == "oidc_session_invalid" ? counter : "oidc_login_redirect", "login at the identity provider");
  d.custom = true;
  d.response_headers = {{"Location", url}, {"Set-Cookie", set_cookie(login_cookie_name(spec), login, kLoginCookieLifetime)}};
  return false;
}

Decision finish_oidc_login(const OidcExchange& x, int status, std::string_view body, const KeySet* keys,
                           std::int64_t now, bool* unknown_kid) {
  const auto& spec = *x.spec;
  Decision d;
  auto id = parse_token_response(body);
  if (!id) {
    answer(d, 401, "oidc_token", status == 200 ? id.error().message
                                               : fmt::format("the token endpoint answered {}: {}", status, id.error().message));
    return d;
  }
  if (status != 200) {
    answer(d, 401, "oidc_token", fmt::format("the token endpoint answered {}", status));
    return d;
  }
  if (keys == nullptr) {
    answer(d, 503, "oidc_keys_unavailable", "the identity provider's signing keys could not be fetched");
    return d;
  }
  JwtRules rules;
  rules.algorithms = {JwtAlg::rs256, JwtAlg::es256, JwtAlg::eddsa};
  rules.issuers = {spec.issuer};
  rules.audiences = {spec.client_id};
  rules.required = {"exp", "iat", "sub"};
  rules.skew_s = spec.skew_s;
  auto v = verify_jwt(*id, *keys, rules, now);
  if (!v.ok) {
    if (unknown_kid != nullptr) *unknown_kid = v.unknown_kid;
    const auto& c = v.error.counter;
    answer(d, 401, fmt::format("oidc_id_token_{}", c.starts_with("jwt_") ? c.substr(4) : c),
           fmt::format("the ID token: {}", v.error.reason));
    return d;
  }
  const auto& cl = v.claims;
  if (const auto aud = cl.find("aud"); aud != cl.end() && aud->is_array() && aud->size() > 1) {
    const auto azp = cl.find("azp");
    if (azp == cl.end() || !azp->is_string() || azp->get<std::string>() != spec.client_id) {
      answer(d, 401, "oidc_id_token_audience", "the ID token has several audiences and another azp");
      return d;
    }
  }
  const auto nonce = cl.find("nonce");
  if (nonce == cl.end() || !nonce->is_string() || !same_secret(nonce->get<std::string>(), x.nonce)) {
    answer(d, 401, "oidc_id_token_nonce", "the ID token's nonce does not match the login");
    return d;
  }
  const auto sub = cl.find("sub");
  if (sub == cl.end() || !sub->is_string() || sub->get<std::string>().empty() || sub->get<std::string>().size() > 255) {
    answer(d, 401, "oidc_id_token_claims", "the ID token has no usable sub");
    return d;
  }
  std::string email;
  if (const auto e = cl.find("email"); e != cl.end() && e->is_string() && e->get<std::string>().size() <= 320) {
    const auto ev = cl.find("email_verified");
    const bool unverified = ev != cl.end() && !(ev->is_boolean() && ev->get<bool>());
    if (!unverified) email = lower(e->get<std::string>());
  }
  for (char ch : email + sub->get<std::string>()) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7f) {
      answer(d, 401, "oidc_id_token_claims", "the ID token's sub or email holds control characters");
      return d;
    }
  }
  if (!oidc_user_allowed(spec, sub->get<std::string>(), email)) {
    answer(d, 403, "oidc_user_not_allowed",
           email.empty() ? "this account is not allowed here" : fmt::format("{} is not allowed here", printable(email)));
    return d;
  }
  const OidcSession s{sub->get<std::string>(), email, now + spec.session_lifetime_s};
  const auto sealed = spec.provider->sealer->seal(s, x.host);
  if (sealed.empty()) {
    answer(d, 500, "oidc_token", "the session does not fit a cookie");
    return d;
  }
  answer(d, 302, "oidc_login", "logged in");
  d.custom = true;
  d.response_headers = {{"Location", x.return_to},
                        {"Set-Cookie", set_cookie(spec.cookie_name, sealed, spec.session_lifetime_s)},
                        {"Set-Cookie", set_cookie(login_cookie_name(spec), "", 0)}};
  d.identity = email.empty() ? s.subject : email;
  return d;
}

}  // namespace porthole::policy
