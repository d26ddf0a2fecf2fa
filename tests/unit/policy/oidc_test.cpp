// The oidc action's pure parts (policy/oidc.*): the TOML form, discovery and token responses,
// the login redirect (PKCE S256, state, nonce in a sealed login cookie), the callback's checks,
// sessions, logout, the allow lists and the return path (no open redirect).
#include <gtest/gtest.h>

#include "config/policy_file.hpp"
#include "policy/decision.hpp"
#include "policy/fetch_check.hpp"
#include "policy/oidc.hpp"
#include "policy/oidc_session.hpp"

namespace porthole::policy {
namespace {

constexpr const char* kPolicy = R"(
[[on_http_request]]
name = "login"
[[on_http_request.actions]]
type = "oidc"
issuer = "https://idp.example.com"
client_id = "app"
client_secret = "very-secret-value"
allowed_domains = ["example.com"]
allowed_users = ["Carol@Partner.test", "sub-42"]
)";

struct Fixture {
  std::shared_ptr<Policy> p;
  std::shared_ptr<OidcProvider> prov;
  std::vector<std::pair<std::string, std::string>> headers;
  Fixture() {
    auto r = config::parse_policy(kPolicy, "p.toml");
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    p = *r;
    prov = p->rules(Phase::http_request)[0].actions[0].oidc->provider;
    std::array<std::uint8_t, 32> k{};
    k.fill(3);
    prov->sealer = std::make_shared<const CookieSealer>(k);
  }
  Decision run(std::string target, std::vector<std::pair<std::string, std::string>> hs, std::string scheme = "https") {
    headers = std::move(hs);
    Input in;
    in.ip = "192.0.2.1";
    in.method = "GET";
    in.host = "app.example.com";
    in.target = target_ = std::move(target);
    in.scheme = scheme_ = std::move(scheme);
    for (const auto& [k, v] : headers) in.headers.push_back({k, v});
    in.unix_seconds = 1000000;
    in.now_ms = 5000;
    return evaluate(*p, Phase::http_request, in);
  }
  std::string target_, scheme_;
};

std::string header(const Decision& d, std::string_view name, int nth = 0) {
  for (const auto& h : d.response_headers) {
    if (h.name == name && nth-- == 0) return h.value;
  }
  return {};
}

OidcDiscovery discovery() {
  auto d = parse_oidc_discovery(R"({"issuer":"https://idp.example.com","authorization_endpoint":"https://idp.example.com/auth",
    "token_endpoint":"https://idp.example.com/token","jwks_uri":"https://idp.example.com/keys",
    "code_challenge_methods_supported":["S256"]})", "https://idp.example.com");
  EXPECT_TRUE(d);
  return *d;
}

TEST(Oidc, PolicyProblemsNeverEchoTheSecret) {
  auto r = config::parse_policy(R"(
[[on_http_request]]
name = "x"
actions = [{ type = "oidc", issuer = "http://idp", client_id = "a", client_secret = "", scopes = "email", callback_path = "cb", nonsense = 1 }]
)", "p.toml");
  ASSERT_FALSE(r);
  const auto& m = r.error().message;
  EXPECT_NE(m.find("issuer: expected an https:// URL"), std::string::npos) << m;
  EXPECT_NE(m.find("client_secret"), std::string::npos) << m;
  EXPECT_NE(m.find("scopes: must include openid"), std::string::npos) << m;
  EXPECT_NE(m.find("callback_path"), std::string::npos) << m;
  EXPECT_NE(m.find("nonsense: unknown key"), std::string::npos) << m;
  auto ok = config::parse_policy(kPolicy, "p.toml");
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)->protected_headers, std::vector<std::string>{"X-Porthole-Email"});
}

TEST(Oidc, Discovery) {
  const auto d = discovery();
  EXPECT_EQ(d.token_endpoint, "https://idp.example.com/token");
  EXPECT_FALSE(d.client_secret_post);
  EXPECT_FALSE(parse_oidc_discovery(R"({"issuer":"https://evil.example.com","authorization_endpoint":"https://a/a",
    "token_endpoint":"https://a/t","jwks_uri":"https://a/k"})", "https://idp.example.com"));  // another issuer
  EXPECT_FALSE(parse_oidc_discovery(R"({"issuer":"https://i","authorization_endpoint":"http://a/a",
    "token_endpoint":"https://a/t","jwks_uri":"https://a/k"})", "https://i"));  // not https
  EXPECT_FALSE(parse_oidc_discovery(R"({"issuer":"https://i","authorization_endpoint":"https://a/a",
    "token_endpoint":"https://a/t","jwks_uri":"https://a/k","code_challenge_methods_supported":["plain"]})", "https://i"));
  auto post = parse_oidc_discovery(R"({"issuer":"https://i","authorization_endpoint":"https://a/a",
    "token_endpoint":"https://a/t","jwks_uri":"https://a/k","token_endpoint_auth_methods_supported":["client_secret_post"]})",
                                   "https://i");
  ASSERT_TRUE(post);
  EXPECT_TRUE(post->client_secret_post);
  EXPECT_FALSE(parse_oidc_discovery("[]", "https://i"));
  EXPECT_FALSE(parse_oidc_discovery("{", "https://i"));
  EXPECT_EQ(*parse_token_response(R"({"id_token":"a.b.c","token_type":"Bearer"})"), "a.b.c");
  EXPECT_FALSE(parse_token_response(R"({"error":"invalid_grant"})"));
  EXPECT_FALSE(parse_token_response(R"({"access_token":"x"})"));
}

TEST(Oidc, ReturnPathsStayOnTheHost) {
  EXPECT_EQ(safe_return_path("/a/b?c=d"), "/a/b?c=d");
  for (const char* bad : {"//evil.example/", "/\\evil.example", "https://evil.example/", "", "evil", "/a\r\nX: y"}) {
    EXPECT_EQ(safe_return_path(bad), "/") << bad;
  }
}

TEST(Oidc, AllowLists) {
  Fixture f;
  const auto& spec = *f.p->rules(Phase::http_request)[0].actions[0].oidc;
  EXPECT_TRUE(oidc_user_allowed(spec, "x", "bob@example.com"));
  EXPECT_TRUE(oidc_user_allowed(spec, "x", "BOB@EXAMPLE.COM"));
  EXPECT_FALSE(oidc_user_allowed(spec, "x", "bob@sub.example.com"));
  EXPECT_FALSE(oidc_user_allowed(spec, "x", "bob@example.com.evil"));
  EXPECT_TRUE(oidc_user_allowed(spec, "x", "carol@partner.test"));
  EXPECT_TRUE(oidc_user_allowed(spec, "sub-42", ""));
  EXPECT_FALSE(oidc_user_allowed(spec, "sub-43", ""));
}

TEST(Oidc, LoginRedirectCallbackSessionLogout) {
  Fixture f;
  // Plain http: refused (the cookie is Secure). No discovery yet: the decision asks for it.
  EXPECT_EQ(f.run("/", {{"Accept", "text/html"}}, "http").counter, "oidc_insecure");
  auto d = f.run("/", {{"Accept", "text/html"}});
  EXPECT_EQ(d.status, 503);
  EXPECT_EQ(d.needs_discovery, f.prov);
  ASSERT_TRUE(f.prov->begin_fetch(5000));
  f.prov->fetch_done(discovery());
  // A browser without a session: 302 to the provider, with PKCE and a sealed login cookie.
  d = f.run("/docs/x?y=1", {{"Accept", "text/html"}, {"Host", "app.example.com:8443"}});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 302);
  EXPECT_EQ(d.counter, "oidc_login_redirect");
  const auto loc = header(d, "Location");
  EXPECT_TRUE(loc.starts_with("https://idp.example.com/auth?response_type=code&client_id=app&redirect_uri="
                              "https%3A%2F%2Fapp.example.com%3A8443%2F.porthole%2Foidc%2Fcallback&scope=openid%20email%20profile&state="))
      << loc;
  EXPECT_NE(loc.find("&code_challenge_method=S256"), std::string::npos);
  EXPECT_EQ(loc.find("very-secret-value"), std::string::npos);
  const auto cookie = header(d, "Set-Cookie");
  ASSERT_TRUE(cookie.starts_with("porthole_session_login=")) << cookie;
  EXPECT_NE(cookie.find("; Secure; HttpOnly; SameSite=Lax"), std::string::npos);
  const auto login = cookie.substr(23, cookie.find(';') - 23);
  const auto state_at = loc.find("&state=") + 7;
  const auto state = loc.substr(state_at, loc.find('&', state_at) - state_at);
  // A non-browser request: 401, no redirect.
  EXPECT_EQ(f.run("/api", {}).status, 401);
  // The callback: a wrong state, no cookie, another host's cookie → refused; the right one asks
  // for the code exchange.
  const std::string cb = "/.porthole/oidc/callback?code=C0DE&state=";
  EXPECT_EQ(f.run(cb + "wrong", {{"Cookie", "porthole_session_login=" + login}}).counter, "oidc_state");
  EXPECT_EQ(f.run(cb + state, {}).counter, "oidc_state");
  EXPECT_EQ(f.run(cb + state, {{"Cookie", "porthole_session=" + login}}).counter, "oidc_state");
  EXPECT_EQ(f.run("/.porthole/oidc/callback?error=access_denied", {}).counter, "oidc_provider_error");
  d = f.run(cb + state, {{"Cookie", "porthole_session_login=" + login}, {"Host", "app.example.com:8443"}});
  ASSERT_TRUE(d.oidc_exchange);
  EXPECT_EQ(d.oidc_exchange->code, "C0DE");
  EXPECT_EQ(d.oidc_exchange->return_to, "/docs/x?y=1");
  EXPECT_EQ(d.oidc_exchange->redirect_uri, "https://app.example.com:8443/.porthole/oidc/callback");
  EXPECT_EQ(pkce_s256(d.oidc_exchange->verifier), loc.substr(loc.find("code_challenge=") + 15, 43));
  // finish: without a token → refused; the ID token checks are in the integration test (real provider).
  auto fin = finish_oidc_login(*d.oidc_exchange, 400, R"({"error":"invalid_grant"})", nullptr, 1000000);
  EXPECT_EQ(fin.counter, "oidc_token");
  fin = finish_oidc_login(*d.oidc_exchange, 200, R"({"id_token":"a.b.c"})", nullptr, 1000000);
  EXPECT_EQ(fin.counter, "oidc_keys_unavailable");
  KeySet none;
  fin = finish_oidc_login(*d.oidc_exchange, 200, R"({"id_token":"a.b.c"})", &none, 1000000);
  EXPECT_EQ(fin.counter, "oidc_id_token_malformed");
  // A session: allowed, the identity and e-mail set; logout clears the cookie.
  const auto session = f.prov->sealer->seal({"sub-1", "bob@example.com", 1000000 + 60}, "app.example.com");
  d = f.run("/docs", {{"Cookie", "a=b; porthole_session=" + session}, {"X-Porthole-Email", "forged"}});
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.identity, "bob@example.com");
  ASSERT_EQ(d.add_headers.size(), 2u);
  EXPECT_EQ(d.add_headers[0].value, "bob@example.com");
  EXPECT_EQ(d.add_headers[1].name, "Cookie");  // the session cookie stays at the relay
  EXPECT_EQ(d.add_headers[1].value, "a=b");
  EXPECT_EQ(f.run("/docs", {{"Cookie", "porthole_session=" + session + "x"}}).counter, "oidc_session_invalid");
  const auto old = f.prov->sealer->seal({"sub-1", "bob@example.com", 1000000}, "app.example.com");
  EXPECT_EQ(f.run("/docs", {{"Cookie", "porthole_session=" + old}}).counter, "oidc_session_invalid");
  d = f.run("/.porthole/oidc/logout", {{"Cookie", "porthole_session=" + session}});
  EXPECT_EQ(d.status, 302);
  EXPECT_EQ(header(d, "Set-Cookie"), "porthole_session=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
}

TEST(FetchAllow, PublicOnlyUnlessListed) {
  auto check = [](const FetchAllow& f, const char* ip) {
    auto a = parse_dest_ip(ip);
    std::vector<DestAddr> v{*a};
    return f.check("", v, 443);
  };
  const FetchAllow strict;
  EXPECT_TRUE(check(strict, "93.184.216.34").allowed);
  EXPECT_TRUE(check(strict, "2606:2800:220:1::").allowed);
  for (auto [ip, code] : std::initializer_list<std::pair<const char*, const char*>>{
           {"127.0.0.1", "loopback"}, {"::1", "loopback"}, {"10.1.2.3", "private"}, {"172.16.0.1", "private"},
           {"192.168.1.1", "private"}, {"100.64.0.1", "private"}, {"fd00::1", "private"}, {"169.254.169.254", "link_local"},
           {"fe80::1", "link_local"}, {"0.0.0.0", "unspecified"}, {"::", "unspecified"}, {"::ffff:127.0.0.1", "loopback"},
           {"64:ff9b::7f00:1", "loopback"}, {"224.0.0.1", "multicast"}}) {
    const auto v = check(strict, ip);
    EXPECT_FALSE(v.allowed) << ip;
    EXPECT_EQ(v.code, code) << ip;
    EXPECT_NE(v.reason.find("policy_fetch_allow"), std::string::npos) << v.reason;
  }
  std::vector<std::string> allow = {"127.0.0.0/8", "10.0.0.0/8"};
  auto f = FetchAllow::parse(allow);
  ASSERT_TRUE(f);
  EXPECT_TRUE(check(*f, "127.0.0.1").allowed);
  EXPECT_TRUE(check(*f, "10.9.9.9").allowed);
  EXPECT_FALSE(check(*f, "192.168.1.1").allowed);
  EXPECT_FALSE(check(*f, "::1").allowed);
  // Every address of a name must pass.
  std::vector<DestAddr> mixed{*parse_dest_ip("93.184.216.34"), *parse_dest_ip("192.168.0.1")};
  EXPECT_FALSE(strict.check("mixed.example", mixed, 443).allowed);
  std::vector<std::string> bad = {"example.com"};
  EXPECT_FALSE(FetchAllow::parse(bad));
  bad = {"10.0.0.0/33"};
  EXPECT_FALSE(FetchAllow::parse(bad));
}

}  // namespace
}  // namespace porthole::policy
