// The oidc action's untrusted and configured inputs (oidc.hpp): the provider's discovery
// document and token endpoint answer (JSON from the network: bounded, strictly typed), and the
// action's TOML. A client secret is never echoed in a problem.
#include <nlohmann/json.hpp>

#include <cctype>

#include "policy/oidc.hpp"
#include "policy/reader.hpp"

namespace porthole::policy {

namespace {

bool https_url(std::string_view s) {
  return s.starts_with("https://") && s.size() > 8 && s.size() <= 2048 &&
         s.find_first_of(" \t\r\n\"<>#\\") == std::string_view::npos && s[8] != '/';
}

Result<std::string> url_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return make_error("the discovery document has no {}", key);
  auto s = it->get<std::string>();
  if (!https_url(s)) return make_error("the discovery document's {} is not an https:// URL", key);
  return s;
}

bool has_string(const nlohmann::json& j, const char* key, std::string_view want) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return false;
  for (const auto& v : *it) {
    if (v.is_string() && v.get<std::string>() == want) return true;
  }
  return false;
}

}  // namespace

Result<OidcDiscovery> parse_oidc_discovery(std::string_view json, std::string_view expected_issuer) {
  if (json.size() > kMaxDiscovery) return make_error("the discovery document is larger than {} KiB", kMaxDiscovery / 1024);
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("the discovery document is not a JSON object");
  OidcDiscovery d;
  const auto iss = j.find("issuer");
  if (iss == j.end() || !iss->is_string()) return make_error("the discovery document has no issuer");
  d.issuer = iss->get<std::string>();
  if (d.issuer != expected_issuer) return make_error("the discovery document names another issuer");
  auto a = url_field(j, "authorization_endpoint");
  if (!a) return a.error();
  auto t = url_field(j, "token_endpoint");
  if (!t) return t.error();
  auto k = url_field(j, "jwks_uri");
  if (!k) return k.error();
  d.authorization_endpoint = std::move(*a);
  d.token_endpoint = std::move(*t);
  d.jwks_uri = std::move(*k);
  if (j.contains("code_challenge_methods_supported") && !has_string(j, "code_challenge_methods_supported", "S256")) {
    return make_error("the provider does not support PKCE S256");
  }
  if (j.contains("response_types_supported") && !has_string(j, "response_types_supported", "code")) {
    return make_error("the provider does not support the authorization code flow");
  }
  if (j.contains("token_endpoint_auth_methods_supported")) {
    if (has_string(j, "token_endpoint_auth_methods_supported", "client_secret_basic")) {
      d.client_secret_post = false;
    } else if (has_string(j, "token_endpoint_auth_methods_supported", "client_secret_post")) {
      d.client_secret_post = true;
    }  // neither listed: client_secret_basic, which RFC 6749 §2.3.1 makes every server support
  }
  return d;
}

Result<std::string> parse_token_response(std::string_view json) {
  if (json.size() > kMaxDiscovery) return make_error("the token response is too large");
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return make_error("the token response is not a JSON object");
  if (const auto e = j.find("error"); e != j.end()) {
    std::string code = e->is_string() ? e->get<std::string>() : "?";
    for (auto& c : code) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') c = '?';
    }
    if (code.size() > 64) code.resize(64);
    return make_error("the token endpoint refused the code: {}", code);
  }
  const auto id = j.find("id_token");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    return make_error("the token response has no id_token");
  }
  if (id->get<std::string>().size() > kMaxJwt) return make_error("the id_token is too large");
  return id->get<std::string>();
}

namespace {

using detail::Tab;

bool path_ok(std::string_view p) {
  return p.size() >= 2 && p.size() <= 256 && p.front() == '/' && p.find_first_of(" \t\r\n?#%\\") == std::string_view::npos &&
         p.find("//") == std::string_view::npos && p.find("/./") == std::string_view::npos &&
         p.find("/../") == std::string_view::npos;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

void read_oidc_action(const toml::table& tbl, const std::string& prefix, std::vector<Problem>& out, Action& a) {
  Tab t(tbl, prefix, out);
  auto spec = std::make_shared<OidcSpec>();
  if (t.str("issuer", spec->issuer, true)) {
    // Discovery appends /.well-known/openid-configuration to the issuer (without a trailing /).
    if (!https_url(spec->issuer)) t.problem_at(t.take("issuer"), "issuer", "expected an https:// URL");
  }
  if (t.str("client_id", spec->client_id, true) &&
      (spec->client_id.empty() || spec->client_id.size() > 512 || !detail::safe_value(spec->client_id))) {
    t.problem_at(t.take("client_id"), "client_id", "1..512 characters, no CR/LF");
  }
  if (t.str("client_secret", spec->client_secret, true) &&
      (spec->client_secret.empty() || spec->client_secret.size() > 1024)) {
    t.problem_at(t.take("client_secret"), "client_secret", "expected 1..1024 characters");  // never echoed
  }
  std::vector<std::string> scopes;
  if (t.strs("scopes", scopes)) {
    std::string joined;
    bool openid = false;
    for (const auto& entry : scopes) {
      std::string_view rest = entry;
      while (!rest.empty()) {
        const auto sp = rest.find(' ');
        const auto w = rest.substr(0, sp);
        rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        if (w.empty()) continue;
        if (w.find_first_of("\"\\\r\n\t&=+#") != std::string_view::npos || w.size() > 128) {
          t.problem_at(t.take("scopes"), "scopes", fmt::format("'{}' is not a scope", w.substr(0, 64)));
        }
        openid = openid || w == "openid";
        joined += fmt::format("{}{}", joined.empty() ? "" : " ", w);
      }
    }
    if (!openid) t.problem_at(t.take("scopes"), "scopes", "must include openid");
    spec->scopes = joined;
  }
  std::vector<std::string> v;
  if (t.strs("allowed_domains", v)) {
    for (auto& d : v) {
      if (d.starts_with("@")) d.erase(0, 1);
      if (d.empty() || d.find_first_of("@ \r\n") != std::string::npos) {
        t.problem_at(t.take("allowed_domains"), "allowed_domains", fmt::format("'{}' is not a domain", d.substr(0, 64)));
      }
      spec->allowed_domains.push_back(lower(d));
    }
  }
  v.clear();
  if (t.strs("allowed_users", v)) {
    for (auto& u : v) spec->allowed_users.push_back(u.find('@') != std::string::npos ? lower(u) : u);
  }
  for (auto [key, into] : {std::pair{"callback_path", &spec->callback_path}, std::pair{"logout_path", &spec->logout_path}}) {
    if (t.str(key, *into) && !path_ok(*into)) {
      t.problem_at(t.take(key), key, "expected a plain path like /.porthole/oidc/callback");
    }
  }
  if (spec->callback_path == spec->logout_path) t.problem_at(t.take("logout_path"), "logout_path", "must differ from callback_path");
  std::int64_t life = spec->session_lifetime_s, skew = spec->skew_s;
  if (t.integer("session_lifetime", life, 60, 30 * 86400)) spec->session_lifetime_s = life;
  if (t.integer("skew", skew, 0, 600)) spec->skew_s = skew;
  if (t.str("cookie_name", spec->cookie_name) && (!detail::is_token(spec->cookie_name) || spec->cookie_name.size() > 64)) {
    t.problem_at(t.take("cookie_name"), "cookie_name", "not a cookie name");
  }
  if (t.str("email_header", spec->email_header) &&
      (!detail::is_token(spec->email_header) || detail::reserved_field(spec->email_header))) {
    t.problem_at(t.take("email_header"), "email_header", "not a header field a policy may set");
  }
  std::string issuer = spec->issuer;
  spec->provider = std::make_shared<OidcProvider>(issuer);
  a.status = 401;
  a.oidc = std::move(spec);
  // Unknown keys are reported by the action reader (kOidcKeys are known there).
}

}  // namespace porthole::policy
