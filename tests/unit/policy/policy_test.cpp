// The pure policy layer: parsing (every problem at once), conditions, first match, actions.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "config/policy_file.hpp"
#include "policy/basic_auth.hpp"
#include "policy/credential_cache.hpp"
#include "policy/codec.hpp"
#include "policy/decision.hpp"
#include "policy/rate_limit.hpp"
#include "policy/sensitive.hpp"

namespace porthole::policy {
namespace {

std::shared_ptr<Policy> compile(std::string_view text) {
  auto p = config::parse_policy(text, "p.toml");
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : std::make_shared<Policy>();
}

Input req(std::string_view ip, std::string_view method, std::string_view target) {
  Input in;
  in.ip = ip;
  in.method = method;
  in.target = target;
  in.host = "app.example.com";
  return in;
}

Decision run(const Policy& p, const Input& in, Phase ph = Phase::http_request) { return evaluate(p, ph, in, true); }

TEST(PolicyParse, ReportsEveryProblemWithLineAndKey) {
  auto p = config::parse_policy(R"P(
[[on_http_request]]
name = "a"
when = { path_regex = "(", ip = ["10.0.0.0/33"], colour = 1 }
actions = [{ type = "deny", status = 99 }, { type = "teleport" }]

[[on_http_request]]
name = "a"
actions = [{ type = "add-headers", headers = { "Content-Length" = "1" } }]

[[on_tcp_connect]]
name = "t"
actions = [{ type = "basic-auth", users = ["u:plain-password"] }]
)P",
                                "p.toml");
  ASSERT_FALSE(p);
  const auto& m = p.error().message;
  EXPECT_NE(m.find("p.toml:4: on_http_request[0].when.path_regex: bad regular expression"), std::string::npos) << m;
  EXPECT_NE(m.find("p.toml:4: on_http_request[0].when.ip:"), std::string::npos) << m;
  EXPECT_NE(m.find("p.toml:4: on_http_request[0].when.colour: unknown key"), std::string::npos) << m;
  EXPECT_NE(m.find("p.toml:5: on_http_request[0].actions[0].status: 99 is out of range"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown action 'teleport'"), std::string::npos) << m;
  EXPECT_NE(m.find("duplicate rule name 'a'"), std::string::npos) << m;
  EXPECT_NE(m.find("'Content-Length' is not a header field a policy may set"), std::string::npos) << m;
  EXPECT_NE(m.find("'basic-auth' cannot be used in on_tcp_connect"), std::string::npos) << m;
  EXPECT_EQ(m.find("plain-password"), std::string::npos) << "a secret was echoed: " << m;
}

TEST(PolicyParse, RefusesHeaderInjectionAndBadRedirects) {
  EXPECT_FALSE(config::parse_policy(R"P([[on_http_request]]
name = "x"
actions = [{ type = "add-headers", headers = { X-A = "a\r\nX-Evil: 1" } }])P",
                                    "p"));
  EXPECT_FALSE(config::parse_policy(R"P([[on_http_request]]
name = "x"
actions = [{ type = "redirect", to = "https://a\r\nSet-Cookie: x", status = 302 }])P",
                                    "p"));
  EXPECT_FALSE(config::parse_policy("[[on_http_request]]\nname=\"x\"\nactions=[{type=\"redirect\",to=\"/\",status=305}]", "p"));
  EXPECT_FALSE(config::parse_policy("version = 2", "p"));
  EXPECT_FALSE(config::parse_policy("[[on_http_request]]\nname = \"x\"\nactions = [{ type = \"url-rewrite\", from = \"^/a\", to = \"\\\\9\" }]", "p"));
}

TEST(PolicyParse, CanonicalDocumentRoundTrips) {
  auto p = compile(R"P(
[[on_http_request]]
name = "admin"
when = { path_prefix = "/admin", header = [{ name = "X-Key", equals = "k" }] }
actions = [{ type = "deny", status = 404, body = "nope" }]
)P");
  auto again = compile(p->canonical);
  EXPECT_EQ(again->canonical, p->canonical);
  EXPECT_EQ(again->rules(Phase::http_request).size(), 1u);
}

TEST(PolicyConditions, IpListsMatchV4V6AndV4Mapped) {
  auto p = compile(R"P(
[[on_http_request]]
name = "inside"
when = { ip = ["10.0.0.0/8", "2001:db8::/32"] }
actions = [{ type = "allow" }]
[[on_http_request]]
name = "rest"
actions = [{ type = "deny" }]
)P");
  EXPECT_TRUE(run(*p, req("10.1.2.3", "GET", "/")).allow);
  EXPECT_TRUE(run(*p, req("::ffff:10.1.2.3", "GET", "/")).allow);
  EXPECT_TRUE(run(*p, req("2001:db8::5", "GET", "/")).allow);
  auto d = run(*p, req("192.0.2.1", "GET", "/"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 403);
  EXPECT_EQ(d.rule, "rest");
  EXPECT_FALSE(run(*p, req("2001:db9::5", "GET", "/")).allow);
  EXPECT_FALSE(run(*p, req("not-an-ip", "GET", "/")).allow);
}

TEST(PolicyConditions, MethodHostAndPathKinds) {
  auto p = compile(R"P(
[[on_http_request]]
name = "exact"
when = { path = "/login", method = ["POST"] }
actions = [{ type = "deny", status = 401 }]
[[on_http_request]]
name = "prefix"
when = { path_prefix = "/admin/" }
actions = [{ type = "deny", status = 402 }]
[[on_http_request]]
name = "glob"
when = { path_glob = "/static/*.map", host = "*.EXAMPLE.com" }
actions = [{ type = "deny", status = 404 }]
[[on_http_request]]
name = "regex"
when = { path_regex = "^/v[0-9]+/private" }
actions = [{ type = "deny", status = 410 }]
)P");
  EXPECT_EQ(run(*p, req("1.1.1.1", "POST", "/login")).status, 401);
  EXPECT_TRUE(run(*p, req("1.1.1.1", "GET", "/login")).allow);
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/admin/users")).status, 402);
  // The path is normalised before matching: dot segments, encoded unreserved characters.
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/public/../admin/users")).status, 402);
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/%61dmin/users")).status, 402);
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "//admin/./users?x=1")).status, 402);
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/static/app.js.map")).status, 404);
  EXPECT_TRUE(run(*p, req("1.1.1.1", "GET", "/static/app.js")).allow);
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/v2/private/x")).status, 410);
  EXPECT_TRUE(run(*p, req("1.1.1.1", "GET", "/v2/public")).allow);
}

TEST(PolicyConditions, NormalizePath) {
  EXPECT_EQ(normalize_path("/"), "/");
  EXPECT_EQ(normalize_path(""), "/");
  EXPECT_EQ(normalize_path("/a/b/../c"), "/a/c");
  EXPECT_EQ(normalize_path("/a/./b/"), "/a/b/");
  EXPECT_EQ(normalize_path("/../../etc"), "/etc");
  EXPECT_EQ(normalize_path("/a/.."), "/");
  EXPECT_EQ(normalize_path("/%7euser/%2f%41?q=/x"), "/~user/%2FA");
  EXPECT_EQ(normalize_path("/a%"), "/a%");
}

TEST(PolicyConditions, QueryAndHeaders) {
  auto p = compile(R"P(
[[on_http_request]]
name = "debug"
when = { query = { name = "debug", equals = "on now" } }
actions = [{ type = "deny", status = 400 }]
[[on_http_request]]
name = "key"
when = { header = [{ name = "x-api-key", present = false }] }
actions = [{ type = "deny", status = 401 }]
[[on_http_request]]
name = "agent"
when = { header = { name = "User-Agent", matches = "(?i)curl/" } }
actions = [{ type = "deny", status = 418 }]
)P");
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/?a=1&debug=on+now")).status, 400);
  EXPECT_EQ(run(*p, req("1.1.1.1", "GET", "/?debug=on%20now")).status, 400);
  auto in = req("1.1.1.1", "GET", "/?debug=off");
  EXPECT_EQ(run(*p, in).status, 401);
  in.headers = {{"X-API-Key", "k"}};
  EXPECT_TRUE(run(*p, in).allow);
  in.headers = {{"X-API-Key", "k"}, {"user-agent", "CURL/8.0"}};
  EXPECT_EQ(run(*p, in).status, 418);
}

TEST(PolicyConditions, SniMtlsAndTime) {
  auto p = compile(R"P(
[[on_tcp_connect]]
name = "sni"
when = { sni = "*.internal.example", mtls_subject = "CN=alice,*" }
actions = [{ type = "allow" }]
[[on_tcp_connect]]
name = "office hours"
when = { time = { days = ["mon", "tue", "wed", "thu", "fri"], from = "22:00", to = "06:00", utc_offset = "+02:00" } }
actions = [{ type = "deny" }]
)P");
  Input in;
  in.ip = "1.2.3.4";
  in.sni = "db.INTERNAL.example";
  in.mtls_subject = "CN=alice,O=Example";
  EXPECT_EQ(run(*p, in, Phase::tcp_connect).rule, "sni");
  in.mtls_subject = "CN=bob,O=Example";
  // 2024-01-01 was a Monday. 21:30 UTC = 23:30 at +02:00: in the overnight window.
  in.unix_seconds = 1704144600;
  auto d = run(*p, in, Phase::tcp_connect);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 0);  // a TCP close
  in.unix_seconds = 1704144600 - 3600 * 2;  // 21:30 local: outside
  EXPECT_TRUE(run(*p, in, Phase::tcp_connect).allow);
  // Saturday 01:00 local belongs to Friday night's window; Sunday 01:00 to Saturday's (off).
  in.unix_seconds = 1704495600;  // 2024-01-05 (Fri) 23:00 UTC = Saturday 01:00 at +02:00
  EXPECT_FALSE(run(*p, in, Phase::tcp_connect).allow);
  in.unix_seconds += 86400;  // Sunday 01:00
  EXPECT_TRUE(run(*p, in, Phase::tcp_connect).allow);
}

TEST(PolicyEvaluate, FirstMatchInFileOrderAndContinue) {
  auto p = compile(R"P(
[[on_http_request]]
name = "tag"
continue = true
actions = [{ type = "add-headers", headers = { X-Tag = "1" } }]
[[on_http_request]]
name = "first"
when = { path_prefix = "/" }
actions = [{ type = "add-headers", headers = { X-First = "1" } }]
[[on_http_request]]
name = "never"
actions = [{ type = "deny" }]
)P");
  auto d = run(*p, req("1.1.1.1", "GET", "/x"));
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(d.rule, "first");
  ASSERT_EQ(d.add_headers.size(), 2u);
  EXPECT_EQ(d.add_headers[0].name, "X-Tag");
  EXPECT_EQ(d.trace.size(), 2u);  // "never" was not looked at
}

TEST(PolicyActions, ResponsesRewritesAndHeaders) {
  auto p = compile(R"P(
[[on_http_request]]
name = "maintenance"
when = { path = "/status" }
actions = [{ type = "custom-response", status = 503, body = "down", content_type = "text/html", headers = { Retry-After = "60" } }]
[[on_http_request]]
name = "moved"
when = { path_prefix = "/old" }
actions = [{ type = "redirect", to = "https://new.example/", keep_path = true, status = 308 }]
[[on_http_request]]
name = "api"
when = { path_prefix = "/api/v1/" }
actions = [
  { type = "url-rewrite", from = "^/api/v1/(.*)", to = "/v1/\\1" },
  { type = "remove-headers", headers = ["Cookie"] },
  { type = "add-headers", headers = { X-Via = "porthole" } },
]
[[on_http_response]]
name = "hsts"
when = { status = [200, 204] }
actions = [{ type = "add-headers", headers = { Strict-Transport-Security = "max-age=60" } }, { type = "remove-headers", headers = "Server" }]
)P");
  auto d = run(*p, req("1.1.1.1", "GET", "/status"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 503);
  EXPECT_TRUE(d.custom);
  EXPECT_EQ(d.body, "down");
  ASSERT_EQ(d.response_headers.size(), 2u);
  EXPECT_EQ(d.response_headers[0].value, "text/html");
  d = run(*p, req("1.1.1.1", "GET", "/old/page?x=1"));
  EXPECT_EQ(d.status, 308);
  EXPECT_EQ(d.response_headers.at(0).value, "https://new.example/old/page?x=1");
  d = run(*p, req("1.1.1.1", "GET", "/api/v1/users?id=2"));
  ASSERT_TRUE(d.allow);
  EXPECT_EQ(d.new_target.value_or(""), "/v1/users?id=2");
  EXPECT_EQ(d.remove_headers, std::vector<std::string>{"Cookie"});
  Input resp = req("1.1.1.1", "GET", "/");
  resp.status = 200;
  d = run(*p, resp, Phase::http_response);
  EXPECT_EQ(d.add_headers.size(), 1u);
  EXPECT_EQ(d.remove_headers.at(0), "Server");
  resp.status = 500;
  EXPECT_TRUE(run(*p, resp, Phase::http_response).add_headers.empty());
}

TEST(PolicyActions, RestrictIps) {
  auto p = compile(R"P(
[[on_tcp_connect]]
name = "ips"
actions = [{ type = "restrict-ips", allow = ["192.0.2.0/24", "::1"], deny = ["192.0.2.66"] }]
)P");
  Input in;
  in.ip = "192.0.2.1";
  EXPECT_TRUE(run(*p, in, Phase::tcp_connect).allow);
  in.ip = "192.0.2.66";
  EXPECT_EQ(run(*p, in, Phase::tcp_connect).counter, "ip");
  in.ip = "198.51.100.1";
  EXPECT_FALSE(run(*p, in, Phase::tcp_connect).allow);
  in.ip = "::1";
  EXPECT_TRUE(run(*p, in, Phase::tcp_connect).allow);
  EXPECT_TRUE(p->has_ip_allow_rule());
}

TEST(PolicyActions, BasicAuthWithHashedPasswords) {
  auto hash = hash_password("s3cret pass", 10);
  ASSERT_TRUE(hash);
  auto parsed = PasswordHash::parse(*hash);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(verify_password(*parsed, "s3cret pass"));
  EXPECT_FALSE(verify_password(*parsed, "s3cret pasS"));
  EXPECT_FALSE(PasswordHash::parse("$scrypt$ln=15,r=8$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAA"));
  EXPECT_FALSE(PasswordHash::parse("$scrypt$ln=40,r=8,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAA"));
  auto p = compile(fmt::format(R"P(
[[on_http_request]]
name = "login"
actions = [{{ type = "basic-auth", users = ["alice:{}"], realm = "team" }}, {{ type = "rate-limit", rate = "100/s", key = "identity" }}]
)P",
                               *hash));
  auto in = req("1.1.1.1", "GET", "/");
  auto d = run(*p, in);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.counter, "basic_auth_missing");
  EXPECT_EQ(d.response_headers.at(0).value, "Basic realm=\"team\", charset=\"UTF-8\"");
  in.headers = {{"Authorization", "Basic YWxpY2U6czNjcmV0IHBhc3M="}};  // alice:s3cret pass
  d = run(*p, in);
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(d.identity, "alice");
  EXPECT_TRUE(run(*p, in).allow);  // the cached verification
  for (const char* bad : {"Basic YWxpY2U6d3Jvbmc=", "Basic Ym9iOnMzY3JldCBwYXNz", "Basic !!!!", "Bearer x",
                          "Basic YWxpY2U="}) {
    in.headers = {{"Authorization", bad}};
    d = run(*p, in);
    EXPECT_EQ(d.status, 401) << bad;
    EXPECT_EQ(d.counter, "basic_auth_bad") << bad;
  }
}

TEST(PolicyCredentialCache, KeyedDigestsAndBoundedLru) {
  const auto a = credential_digest("alice:secret");
  EXPECT_EQ(a, credential_digest("alice:secret"));
  EXPECT_NE(a, credential_digest("alice:secreT"));
  CredentialCache<int> c(2);
  c.put(a, 1);
  c.put(credential_digest("b"), 2);
  ASSERT_TRUE(c.find(a));  // a is now the most recently used
  c.put(credential_digest("c"), 3);  // evicts b
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.find(credential_digest("b")));
  EXPECT_EQ(*c.find(a), 1);
  c.erase(a);
  EXPECT_FALSE(c.find(a));
}

TEST(PolicyActions, RateLimitSlidingWindowAndRetryAfter) {
  auto p = compile(R"P(
[[on_http_request]]
name = "limit"
actions = [{ type = "rate-limit", rate = "3/s" }]
)P");
  auto in = req("1.1.1.1", "GET", "/");
  in.now_ms = 10'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run(*p, in).allow);
  auto d = run(*p, in);
  EXPECT_EQ(d.status, 429);
  EXPECT_EQ(d.response_headers.at(0).name, "Retry-After");
  EXPECT_EQ(d.response_headers.at(0).value, "2");  // at 11.334 s the old window weighs 2/3 * 3
  auto other = in;
  other.ip = "2.2.2.2";
  EXPECT_TRUE(run(*p, other).allow);  // per client IP
  in.now_ms = 11'500;                 // half the last window still weighs: 3 * 0.5 = 1.5
  EXPECT_TRUE(run(*p, in).allow);     // 1.5 + 1 <= 3
  EXPECT_FALSE(run(*p, in).allow);    // 1.5 + 1 + 1 > 3
  in.now_ms = 13'100;                 // two windows later: all forgotten
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(run(*p, in).allow);
}

TEST(PolicyActions, RateLimiterMemoryIsBounded) {
  RateLimiter r(1, 1000, RateLimiter::Key::ip, {}, 100);
  for (int i = 0; i < 10000; ++i) r.hit(std::to_string(i), 0);
  EXPECT_EQ(r.size(), 100u);
  EXPECT_GT(r.hit("9999", 1), 0);  // still remembered (most recent)
  EXPECT_EQ(r.hit("0", 1), 0);     // forgotten long ago
}

TEST(PolicySugar, FlagsBecomeOneRuleInFrontWithContinue) {
  Sugar s;
  s.allow_cidr = {"10.0.0.0/8"};
  s.deny_cidr = {"10.6.6.6"};
  s.rate_limit = "2/m";
  s.basic_auth = {"bob:hunter2"};
  auto p = config::parse_policy(R"P(
[[on_http_request]]
name = "own"
when = { path = "/x" }
actions = [{ type = "deny", status = 404 }]
)P",
                                "p", &s);
  ASSERT_TRUE(p) << p.error().message;
  const auto& rules = (*p)->rules(Phase::http_request);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "flags");
  EXPECT_TRUE(rules[0].continue_after);
  EXPECT_EQ((*p)->canonical.find("hunter2"), std::string::npos) << "the password must be hashed";
  auto in = req("10.6.6.6", "GET", "/x");
  EXPECT_EQ(run(**p, in).counter, "ip");
  in.ip = "10.1.1.1";
  in.headers = {{"Authorization", "Basic Ym9iOmh1bnRlcjI="}};
  EXPECT_EQ(run(**p, in).status, 404);  // passed the flags, then the file's rule
  Sugar bad;
  bad.allow_cidr = {"10.0.0.0/40"};
  auto e = config::parse_policy("", "p", &bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("--allow-cidr"), std::string::npos);
  Sugar tcp;
  tcp.http = false;
  tcp.basic_auth = {"a:b"};
  EXPECT_FALSE(config::parse_policy("", "p", &tcp));
}

TEST(PolicyDecide, OperatorRulesFirstAndNotLoosened) {
  auto relay = compile(R"P(
[[on_http_request]]
name = "global deny"
when = { ip = ["203.0.113.0/24"] }
actions = [{ type = "deny", status = 403 }]
[[on_http_request]]
name = "ok"
actions = [{ type = "allow" }]
)P");
  auto own = compile(R"P(
[[on_http_request]]
name = "everyone"
actions = [{ type = "allow" }]
[[on_http_request]]
name = "never reached"
actions = [{ type = "deny" }]
)P");
  auto d = decide(relay.get(), own.get(), Phase::http_request, req("203.0.113.9", "GET", "/"));
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule, "relay:global deny");
  auto deny_all = compile("[[on_http_request]]\nname = \"no\"\nactions = [{ type = \"deny\", status = 451 }]");
  d = decide(relay.get(), deny_all.get(), Phase::http_request, req("198.51.100.1", "GET", "/"));
  EXPECT_EQ(d.status, 451);  // an operator `allow` ends only the operator's rules
  EXPECT_TRUE(decide(nullptr, nullptr, Phase::http_request, req("1.1.1.1", "GET", "/")).allow);
}

TEST(PolicyConfig, InlineTunnelPolicyAndRelayRules) {
  auto agent = config::parse_agent_config(R"P(version = 1
[[tunnel]]
name = "web"
kind = "http"
local = 3000
[[tunnel.policy.on_http_request]]
name = "office"
when = { not_ip = ["10.0.0.0/8"] }
actions = [{ type = "deny" }]
)P",
                                          "porthole.toml");
  ASSERT_TRUE(agent) << agent.error().message;
  ASSERT_EQ(agent->tunnels.size(), 1u);
  EXPECT_NE(agent->tunnels[0].policy.find("office"), std::string::npos);
  auto bad = config::parse_agent_config(R"P(version = 1
[[tunnel]]
name = "web"
kind = "http"
local = 3000
[[tunnel.policy.on_http_request]]
name = "office"
actions = [{ type = "deny", status = 200 }]
)P",
                                        "porthole.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("porthole.toml:8: tunnel[0].policy.on_http_request[0].actions[0].status"),
            std::string::npos)
      << bad.error().message;
  auto relay = config::parse_relay_config(R"P(version = 1
[relay]
domain = "example.com"
[[policy.on_http_request]]
name = "global"
when = { ip = "203.0.113.0/24" }
actions = [{ type = "deny" }]
)P",
                                          "relay.toml");
  ASSERT_TRUE(relay) << relay.error().message;
  EXPECT_NE(relay->policy.find("global"), std::string::npos);
}

}  // namespace
}  // namespace porthole::policy

namespace porthole::policy {
namespace {

TEST(PolicySensitive, PortsAndProcesses) {
  EXPECT_EQ(sensitive_port(5432).value_or(""), "PostgreSQL");
  EXPECT_EQ(sensitive_port(5902).value_or(""), "VNC");
  EXPECT_EQ(sensitive_port(2376).value_or(""), "the Docker API");
  EXPECT_FALSE(sensitive_port(8080));
  EXPECT_FALSE(sensitive_port(22));
  EXPECT_EQ(sensitive_process("postgres").value_or(""), "PostgreSQL");
  EXPECT_FALSE(sensitive_process("nginx"));
  const auto m = sensitive_refusal("db", 6000, "PostgreSQL", "postgres");
  EXPECT_NE(m.find("--private NAME"), std::string::npos);
  EXPECT_NE(m.find("porthole connect NAME"), std::string::npos);
  EXPECT_NE(m.find("--allow-public"), std::string::npos);
  EXPECT_NE(m.find("process postgres"), std::string::npos);
}

}  // namespace
}  // namespace porthole::policy

#include "policy/webhook.hpp"

namespace porthole::policy {
namespace {

// Vectors made by the providers' npm libraries (tests/js/webhook_sign.js).
WebhookResult check(WebhookSpec::Provider p, std::string secret, std::vector<HeaderRef> headers, std::string_view body,
                    std::int64_t now, std::string_view url = "http://h/p") {
  WebhookSpec s;
  s.provider = p;
  s.secret = std::move(secret);
  WebhookInput in;
  in.headers = &headers;
  in.body = body;
  in.url = url;
  in.unix_seconds = now;
  return verify_webhook(s, in);
}

TEST(PolicyWebhook, ProviderVectors) {
  using P = WebhookSpec::Provider;
  const std::vector<HeaderRef> stripe = {
      {"Stripe-Signature", "t=1700000000,v1=b3438763ab46d9634b9844c8722818eaf523f803db1327484c6067462a5fd6d1"}};
  EXPECT_TRUE(check(P::stripe, "whsec_x", stripe, R"({"a":1})", 1700000100).ok);
  EXPECT_EQ(check(P::stripe, "whsec_x", stripe, R"({"a":2})", 1700000100).counter, "webhook_bad");
  EXPECT_EQ(check(P::stripe, "whsec_x", stripe, R"({"a":1})", 1700000301).counter, "webhook_expired");
  EXPECT_EQ(check(P::stripe, "whsec_x", {}, R"({"a":1})", 1700000000).counter, "webhook_missing");
  const std::vector<HeaderRef> gh = {
      {"x-hub-signature-256", "sha256=37beaf650f70b40ec9706929c2e9d835cbd63729988f48781e6383a147215f07"}};
  EXPECT_TRUE(check(P::github, "s", gh, R"({"a":1})", 0).ok);
  EXPECT_FALSE(check(P::github, "t", gh, R"({"a":1})", 0).ok);
  const std::vector<HeaderRef> sw = {{"webhook-id", "msg_porthole_1"},
                                     {"webhook-timestamp", "1700000000"},
                                     {"webhook-signature", "v1,bogus v1,dPJVKVdxp4b1cwaDx5C9AuSAGsfKksbeerdPuPRKs80="}};
  EXPECT_TRUE(check(P::standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", sw, R"({"a":1})", 1700000000).ok);
  EXPECT_FALSE(check(P::standard, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", sw, R"({"a":1} )", 1700000000).ok);
  const std::vector<HeaderRef> tw = {{"X-Twilio-Signature", "EQeY12i58OmPJ5y7mlFG0AFX9BE="},
                                     {"Content-Type", "application/x-www-form-urlencoded"}};
  EXPECT_TRUE(check(P::twilio, "tok", tw, "From=%2B1555&Body=hi+there", 0).ok);
  EXPECT_FALSE(check(P::twilio, "tok", tw, "From=%2B1555&Body=hi+there", 0, "http://h/q").ok);
}

TEST(PolicyWebhook, GenericHmacAndSpecChecks) {
  WebhookSpec s;
  s.provider = WebhookSpec::Provider::hmac;
  s.secret = "k";
  s.header = "X-Sig";
  s.prefix = "sha256=";
  s.content = "{timestamp}.{body}";
  s.timestamp_header = "X-Ts";
  ASSERT_TRUE(check_webhook_spec(s));
  // echo -n '100.hi' | openssl dgst -sha256 -hmac k
  std::vector<HeaderRef> h = {{"X-Sig", "sha256=ab744818b5efd20fba3853ed2776cc30d58bc44b21a30635920b8da496d3a488"},
                              {"X-Ts", "100"}};
  WebhookInput in;
  in.headers = &h;
  in.body = "hi";
  in.unix_seconds = 150;
  EXPECT_TRUE(verify_webhook(s, in).ok);
  in.unix_seconds = 100 + 301;
  EXPECT_EQ(verify_webhook(s, in).counter, "webhook_expired");
  in.unix_seconds = 150;
  in.body = "ho";
  EXPECT_EQ(verify_webhook(s, in).counter, "webhook_bad");
  WebhookSpec bad_secret;
  bad_secret.provider = WebhookSpec::Provider::standard;
  bad_secret.secret = "whsec_!!";
  EXPECT_FALSE(check_webhook_spec(bad_secret));
  WebhookSpec no_header;
  no_header.secret = "k";
  EXPECT_FALSE(check_webhook_spec(no_header));
}

}  // namespace
}  // namespace porthole::policy
