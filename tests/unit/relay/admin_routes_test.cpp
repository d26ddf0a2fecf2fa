#include "relay/admin_routes.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "relay/admin_client.hpp"

namespace porthole::relay::admin {
namespace {

using nlohmann::json;

class FakeBackend : public Backend {
 public:
  FakeBackend() {
    auto s = Store::open_file(":memory:");
    EXPECT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    EXPECT_TRUE(store_->add_static_token("static-token-0123456789"));
  }
  std::vector<AgentInfo> agents() const override { return agents_; }
  std::vector<EndpointInfo> endpoints() const override { return endpoints_; }
  bool kick(std::string_view id) override {
    auto before = agents_.size();
    std::erase_if(agents_, [&](const AgentInfo& a) { return a.id == id; });
    return agents_.size() != before;
  }
  Store& store() override { return *store_; }
  std::int64_t uptime_s() const override { return 42; }

  std::vector<AgentInfo> agents_{{"a1b2", "laptop", "cli-x", "127.0.0.1:5555", 3, 120, 10, 20}};
  std::vector<EndpointInfo> endpoints_{endpoint()};
  static EndpointInfo endpoint() {
    EndpointInfo e;
    e.key = "tcp:20001";
    e.kind = "tcp";
    e.name = "20001";
    e.tunnel = "web";
    e.token_name = "cli-x";
    e.public_url = "tcp://localhost:20001";
    e.agent_id = "a1b2";
    e.port = 20001;
    e.agents = 1;
    e.visitors_total = 7;
    e.visitors_open = 1;
    return e;
  }
  std::unique_ptr<Store> store_;
};

class AdminRoutes : public ::testing::Test {
 protected:
  Response call(std::string method, std::string target, std::string body = {}, std::string auth = {},
                bool require_auth = false) {
    return handle(backend, {std::move(method), std::move(target), std::move(auth), std::move(body)},
                  require_auth);
  }
  static json body_of(const Response& r) { return json::parse(r.body); }
  FakeBackend backend;
};

TEST_F(AdminRoutes, Healthz) {
  auto r = call("GET", "/healthz");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = body_of(r);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["agents"], 1);
  EXPECT_EQ(j["endpoints"], 1);
  EXPECT_EQ(j["uptime_s"], 42);
}

TEST_F(AdminRoutes, MetricsArePrometheusText) {
  metrics::counter("porthole_admin_test_total", "test").inc();
  auto r = call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_NE(r.body.find("porthole_admin_test_total 1"), std::string::npos) << r.body;
}

TEST_F(AdminRoutes, AgentsAndEndpoints) {
  auto a = body_of(call("GET", "/api/agents?verbose=1"))["agents"];
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["id"], "a1b2");
  EXPECT_EQ(a[0]["name"], "laptop");
  EXPECT_EQ(a[0]["token"], "cli-x");
  EXPECT_EQ(a[0]["streams"], 3);
  EXPECT_EQ(a[0]["rtt_us"], 120);
  EXPECT_EQ(a[0]["bytes_out"], 20);
  auto e = body_of(call("GET", "/api/endpoints"))["endpoints"];
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]["public_url"], "tcp://localhost:20001");
  EXPECT_EQ(e[0]["port"], 20001);
  EXPECT_EQ(e[0]["agent_id"], "a1b2");
  EXPECT_EQ(e[0]["visitors_total"], 7);
}

TEST_F(AdminRoutes, KickAgent) {
  EXPECT_EQ(call("DELETE", "/api/agents/nope").status, 404);
  auto r = call("DELETE", "/api/agents/a1b2");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_TRUE(backend.agents_.empty());
  EXPECT_EQ(call("DELETE", "/api/agents/a1b2").status, 404);
  EXPECT_EQ(call("DELETE", "/api/agents/").status, 404);
  EXPECT_EQ(call("DELETE", "/api/agents/a/b").status, 404);
}

TEST_F(AdminRoutes, TokenLifecycle) {
  auto r = call(
      "POST", "/api/tokens",
      R"({"name":"ci","allow_port":"20000-20010","allow_subdomain":"app-*","allow_hostname":"*.example.test"})");
  ASSERT_EQ(r.status, 201) << r.body;
  auto created = body_of(r);
  const std::string secret = created["token"];
  EXPECT_TRUE(secret.starts_with("ph_"));
  EXPECT_EQ(created["allow_port"], "20000-20010");
  EXPECT_EQ(created["allow_hostname"], "*.example.test");
  EXPECT_TRUE(backend.store().find_token(proto::token_id(secret)));

  EXPECT_EQ(call("POST", "/api/tokens", R"({"name":"ci"})").status, 409);

  auto list = call("GET", "/api/tokens");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(secret), std::string::npos);
  auto tokens = body_of(list)["tokens"];
  ASSERT_EQ(tokens.size(), 2u);  // the static one and "ci"
  EXPECT_EQ(tokens[1]["name"], "ci");
  EXPECT_TRUE(tokens[1]["revoked_at"].is_null());

  EXPECT_EQ(call("DELETE", "/api/tokens/ci").status, 204);
  EXPECT_FALSE(backend.store().find_token(proto::token_id(secret)));
  EXPECT_EQ(call("DELETE", "/api/tokens/ci").status, 409);  // already revoked
  EXPECT_EQ(call("DELETE", "/api/tokens/nobody").status, 404);
  auto static_name = body_of(call("GET", "/api/tokens"))["tokens"][0]["name"].get<std::string>();
  EXPECT_EQ(call("DELETE", "/api/tokens/" + static_name).status, 409);
  // A revoked name may be used again.
  EXPECT_EQ(call("POST", "/api/tokens", R"({"name":"ci"})").status, 201);
}

TEST_F(AdminRoutes, BadTokenRequests) {
  for (const char* body :
       {"", "not json", "[1]", R"({"name":5})", R"({"name":"bad name"})", R"({"name":"cli-x"})",
        R"({"name":"a","allow_port":"9-1"})", R"({"name":"a","allow_hostname":"a_b.test"})",
        R"({"name":"a","allow_hostname":5})", R"({"name":"a","colour":"red"})", "{\"name\":\"\xff\"}"}) {
    auto r = call("POST", "/api/tokens", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(body_of(r)["error"].is_string()) << body;
  }
}

TEST_F(AdminRoutes, UnknownRoutesAndMethods) {
  auto r = call("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(body_of(r)["status"], 404);
  r = call("PUT", "/api/tokens");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, POST");
  EXPECT_EQ(call("POST", "/healthz").status, 405);
  EXPECT_EQ(call("GET", "/api/agents/a1b2").status, 405);
  EXPECT_EQ(call("GET", "http://x/healthz").status, 400);
  EXPECT_EQ(call("GET", "").status, 400);
  // Invalid UTF-8 in the path is answered, not thrown on.
  EXPECT_EQ(call("GET", "/\xff\xfe").status, 404);
}

TEST_F(AdminRoutes, AuthRequiredWhenAsked) {
  const auto before = metrics::counter("porthole_admin_errors_total{reason=\"unauthorized\"}", "").value();
  for (const char* auth : {"", "Bearer", "Bearer ", "Basic c3RhdGljLXRva2Vu", "Bearer wrong-token-0123456789",
                           "Bearer static-token-012345678", "static-token-0123456789"}) {
    auto r = call("GET", "/healthz", {}, auth, true);
    EXPECT_EQ(r.status, 401) << auth;
  }
  EXPECT_EQ(call("GET", "/nope", {}, "", true).status, 401);  // routes are not revealed
  EXPECT_EQ(metrics::counter("porthole_admin_errors_total{reason=\"unauthorized\"}", "").value(), before + 8);
  EXPECT_EQ(call("GET", "/healthz", {}, "Bearer static-token-0123456789", true).status, 200);
  EXPECT_EQ(call("GET", "/healthz", {}, "bearer  static-token-0123456789 ", true).status, 200);
}

TEST_F(AdminRoutes, CreatedTokensAuthorizeUntilRevoked) {
  auto secret = body_of(call("POST", "/api/tokens", R"({"name":"ops"})"))["token"].get<std::string>();
  EXPECT_TRUE(authorized(backend.store(), "Bearer " + secret));
  EXPECT_EQ(call("DELETE", "/api/tokens/ops").status, 204);
  EXPECT_FALSE(authorized(backend.store(), "Bearer " + secret));
}

TEST(AdminAuth, ExemptHosts) {
  EXPECT_TRUE(auth_exempt("127.0.0.1"));
  EXPECT_TRUE(auth_exempt("::1"));
  EXPECT_TRUE(auth_exempt("localhost"));
  EXPECT_FALSE(auth_exempt("0.0.0.0"));
  EXPECT_FALSE(auth_exempt("::"));
  EXPECT_FALSE(auth_exempt("127.0.0.2"));
  EXPECT_FALSE(auth_exempt("192.168.1.10"));
}

TEST(AdminClient, ParsesUrls) {
  auto u = parse_admin_url("http://127.0.0.1:7001");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, (HostPort{"127.0.0.1", 7001}));
  EXPECT_EQ(*parse_admin_url("http://[::1]:7001/"), (HostPort{"::1", 7001}));
  EXPECT_EQ(*parse_admin_url("relay.example:9"), (HostPort{"relay.example", 9}));
  EXPECT_EQ(*parse_admin_url("7001"), (HostPort{"127.0.0.1", 7001}));
  EXPECT_FALSE(parse_admin_url("https://relay:7001"));
  EXPECT_FALSE(parse_admin_url("http://relay:7001/api"));
  EXPECT_FALSE(parse_admin_url("http://relay"));
  EXPECT_FALSE(parse_admin_url(""));
}

TEST(AdminClient, ErrorText) {
  EXPECT_EQ(admin_error_text({404, R"({"error":"no token named 'x'","status":404})"}), "no token named 'x'");
  EXPECT_EQ(admin_error_text({502, "bad gateway\n"}), "HTTP 502: bad gateway");
  EXPECT_EQ(admin_error_text({500, ""}), "HTTP 500");
}

TEST_F(AdminRoutes, CertificatesWithoutAcme) {
  auto r = call("GET", "/api/certificates");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r), (json{{"directory", nullptr}, {"certificates", json::array()}}));
  auto renew = call("POST", "/api/certificates/app.example.com");
  EXPECT_EQ(renew.status, 404);
  EXPECT_EQ(call("DELETE", "/api/certificates/app.example.com").status, 405);
}

}  // namespace
}  // namespace porthole::relay::admin
