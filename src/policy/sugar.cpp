// The short flags (--allow-cidr, --deny-cidr, --basic-auth, --rate-limit) as one rule named
// "flags" in front of the policy's own rules, with `continue = true` so those rules still run.
#include "policy/basic_auth.hpp"
#include "policy/codec.hpp"

namespace porthole::policy {

namespace {

toml::array strings(const std::vector<std::string>& v) {
  toml::array a;
  for (const auto& s : v) a.push_back(s);
  return a;
}

void prepend(toml::table& t, std::string_view key, toml::table rule) {
  toml::array list;
  list.push_back(std::move(rule));
  if (auto* n = t.get(key)) {
    if (auto* a = n->as_array()) {
      for (auto& e : *a) list.push_back(e);
    } else {
      list.push_back(*n);  // not a list: read_policy reports it
    }
  }
  t.insert_or_assign(key, std::move(list));
}

}  // namespace

Result<void> apply_sugar(toml::table& t, const Sugar& s) {
  const bool http = s.http;
  toml::array actions;
  if (!s.allow_cidr.empty() || !s.deny_cidr.empty()) {
    toml::table a{{"type", "restrict-ips"}};
    CidrSet check;
    for (const auto& c : s.allow_cidr) {
      if (auto r = check.add(c); !r) return make_error("--allow-cidr: {}", r.error().message);
    }
    for (const auto& c : s.deny_cidr) {
      if (auto r = check.add(c); !r) return make_error("--deny-cidr: {}", r.error().message);
    }
    if (!s.allow_cidr.empty()) a.insert("allow", strings(s.allow_cidr));
    if (!s.deny_cidr.empty()) a.insert("deny", strings(s.deny_cidr));
    actions.push_back(std::move(a));
  }
  if (!s.rate_limit.empty()) actions.push_back(toml::table{{"type", "rate-limit"}, {"rate", s.rate_limit}});
  if (!s.basic_auth.empty()) {
    if (!http) return make_error("--basic-auth: only for http tunnels");
    std::vector<std::string> users;
    for (const auto& u : s.basic_auth) {
      const auto colon = u.find(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == u.size()) {
        return make_error("--basic-auth: expected USER:PASSWORD");
      }
      auto pass = std::string_view(u).substr(colon + 1);
      if (pass.starts_with("$scrypt$")) {
        if (auto h = PasswordHash::parse(pass); !h) return make_error("--basic-auth: {}", h.error().message);
        users.push_back(u);
        continue;
      }
      auto h = hash_password(pass);
      if (!h) return make_error("--basic-auth: {}", h.error().message);
      users.push_back(u.substr(0, colon + 1) + *h);
    }
    actions.push_back(toml::table{{"type", "basic-auth"}, {"users", strings(users)}});
  }
  if (!s.webhook.empty() || !s.webhook_secret.empty()) {
    if (!http) return make_error("--verify-webhook: only for http tunnels");
    if (s.webhook.empty() || s.webhook_secret.empty()) {
      return make_error("--verify-webhook PROVIDER needs --verify-webhook-secret SECRET (and the other way round)");
    }
    actions.push_back(toml::table{{"type", "verify-webhook"}, {"provider", s.webhook}, {"secret", s.webhook_secret}});
  }
  const bool jwt = !s.jwt_issuer.empty() || !s.jwt_audience.empty() || !s.jwks_url.empty() || !s.jwt_secret.empty() ||
                   !s.jwks.empty();
  if (jwt) {
    if (!http) return make_error("--jwt-issuer: only for http tunnels");
    const int keys = int(!s.jwks_url.empty()) + int(!s.jwt_secret.empty()) + int(!s.jwks.empty());
    if (keys != 1) return make_error("--jwt-issuer/--jwt-audience need exactly one of --jwks-url, --jwks-file and --jwt-secret");
    toml::table a{{"type", "jwt"}};
    if (!s.jwt_issuer.empty()) a.insert("issuer", s.jwt_issuer);
    if (!s.jwt_audience.empty()) a.insert("audience", s.jwt_audience);
    if (!s.jwks_url.empty()) a.insert("jwks_url", s.jwks_url);
    if (!s.jwt_secret.empty()) a.insert("secret", s.jwt_secret);
    if (!s.jwks.empty()) a.insert("jwks", s.jwks);
    actions.push_back(std::move(a));
  }
  const bool oidc = !s.oidc_issuer.empty() || !s.oidc_client_id.empty() || !s.oidc_client_secret.empty() ||
                    !s.oidc_allow_domain.empty() || !s.oidc_allow_user.empty();
  if (oidc) {
    if (!http) return make_error("--oidc: only for http tunnels");
    if (s.oidc_issuer.empty() || s.oidc_client_id.empty() || s.oidc_client_secret.empty()) {
      return make_error("--oidc ISSUER needs --oidc-client-id ID and --oidc-client-secret SECRET");
    }
    toml::table a{{"type", "oidc"}, {"issuer", s.oidc_issuer}, {"client_id", s.oidc_client_id},
                  {"client_secret", s.oidc_client_secret}};
    if (!s.oidc_allow_domain.empty()) a.insert("allowed_domains", strings(s.oidc_allow_domain));
    if (!s.oidc_allow_user.empty()) a.insert("allowed_users", strings(s.oidc_allow_user));
    actions.push_back(std::move(a));
  }
  if (actions.empty()) return {};
  toml::table rule{{"name", "flags"}, {"continue", true}, {"actions", std::move(actions)}};
  prepend(t, http ? "on_http_request" : "on_tcp_connect", std::move(rule));
  return {};
}

}  // namespace porthole::policy
