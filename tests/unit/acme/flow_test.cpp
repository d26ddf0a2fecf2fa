// The ACME order flow against constructed CA responses (no sockets): every request it emits is
// checked (method, URL, JWS header and payload), every response is the CA's shape per RFC 8555.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "acme/flow.hpp"
#include "core/encoding.hpp"

namespace porthole::acme {
namespace {

using nlohmann::json;
using Kind = Action::Kind;

constexpr const char* kDir = "https://ca.test/dir";
constexpr const char* kToken = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";

std::string decode(std::string_view b64) {
  auto v = encoding::base64url_decode(b64);
  return v ? std::string(v->begin(), v->end()) : std::string();
}

struct Jws {
  json header;
  std::string payload;
};
Jws jws_of(const Request& r) {
  auto j = json::parse(r.body);
  return {json::parse(decode(j["protected"].get<std::string>())), decode(j["payload"].get<std::string>())};
}

Response ok(json body, std::string nonce, int status = 200, std::string location = {}, std::string retry = {}) {
  return Response{status, body.dump(), "application/json", std::move(location), std::move(nonce), std::move(retry)};
}
Response problem(int status, std::string type, std::string nonce, std::string retry = {}) {
  json p{{"type", "urn:ietf:params:acme:error:" + type}, {"detail", type + " detail"}, {"status", status}};
  return Response{status, p.dump(), "application/problem+json", {}, std::move(nonce), std::move(retry)};
}

json directory() {
  return {{"newNonce", "https://ca.test/nonce"}, {"newAccount", "https://ca.test/acct"},
          {"newOrder", "https://ca.test/order"}, {"meta", {{"termsOfService", "https://ca.test/tos"}}}};
}
json order(std::string status, std::string cert = {}) {
  json o{{"status", status},
         {"identifiers", {{{"type", "dns"}, {"value", "a.example"}}}},
         {"authorizations", {"https://ca.test/authz/1"}},
         {"finalize", "https://ca.test/finalize/1"}};
  if (!cert.empty()) o["certificate"] = cert;
  return o;
}
json authz(std::string status, std::string chal_status = "pending") {
  return {{"status", status},
          {"identifier", {{"type", "dns"}, {"value", "a.example"}}},
          {"challenges",
           {{{"type", "dns-01"}, {"url", "https://ca.test/chal/dns"}, {"token", kToken}, {"status", "pending"}},
            {{"type", "http-01"}, {"url", "https://ca.test/chal/1"}, {"token", kToken}, {"status", chal_status}}}}};
}

struct FlowTest : ::testing::Test {
  Key account = *Key::generate();
  Key cert = *Key::generate();
  FlowSettings settings() {
    FlowSettings s;
    s.directory_url = kDir;
    s.email = "ops@example.com";
    return s;
  }
  // Runs directory → nonce → account → newOrder and returns the action after newOrder's request.
  Action to_new_order(Flow& f) {
    auto a = f.start();
    EXPECT_EQ(a.request.method, "GET");
    EXPECT_EQ(a.request.url, kDir);
    a = f.on_response(ok(directory(), ""), 0);
    EXPECT_EQ(a.request.method, "HEAD");
    EXPECT_EQ(a.request.url, "https://ca.test/nonce");
    a = f.on_response(Response{200, "", "", "", "n1", ""}, 0);
    EXPECT_EQ(a.request.url, "https://ca.test/acct");
    auto acct = jws_of(a.request);
    EXPECT_EQ(acct.header["nonce"], "n1");
    EXPECT_EQ(acct.header["url"], "https://ca.test/acct");
    EXPECT_TRUE(acct.header.contains("jwk"));
    EXPECT_EQ(json::parse(acct.payload), (json{{"termsOfServiceAgreed", true}, {"contact", {"mailto:ops@example.com"}}}));
    a = f.on_response(ok({{"status", "valid"}}, "n2", 201, "https://ca.test/acct/7"), 0);
    EXPECT_EQ(f.account_url(), "https://ca.test/acct/7");
    EXPECT_EQ(a.request.url, "https://ca.test/order");
    auto o = jws_of(a.request);
    EXPECT_EQ(o.header["kid"], "https://ca.test/acct/7");
    EXPECT_FALSE(o.header.contains("jwk"));
    EXPECT_EQ(o.header["nonce"], "n2");
    EXPECT_EQ(json::parse(o.payload), (json{{"identifiers", {{{"type", "dns"}, {"value", "a.example"}}}}}));
    return a;
  }
};

TEST_F(FlowTest, Http01HappyPathWithRetryAfter) {
  Flow f(settings(), account, "", {"a.example"}, cert);
  to_new_order(f);
  auto a = f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/authz/1");
  EXPECT_EQ(jws_of(a.request).payload, "");  // POST-as-GET
  EXPECT_EQ(f.step(), "authorization");

  a = f.on_response(ok(authz("pending"), "n4"), 0);
  ASSERT_EQ(a.effects.size(), 1u);
  EXPECT_EQ(a.effects[0].kind, Effect::Kind::serve_http01);
  EXPECT_EQ(a.effects[0].key, kToken);
  EXPECT_EQ(a.effects[0].key_authorization, std::string(kToken) + "." + account.thumbprint());
  EXPECT_EQ(a.request.url, "https://ca.test/chal/1");  // http-01, not the dns-01 listed first
  EXPECT_EQ(jws_of(a.request).payload, "{}");

  a = f.on_response(ok({{"type", "http-01"}, {"status", "processing"}, {"url", "https://ca.test/chal/1"}, {"token", kToken}},
                       "n5", 200, "", "3"),
                    0);
  ASSERT_EQ(a.kind, Kind::wait);
  EXPECT_EQ(a.delay, std::chrono::seconds(3));  // Retry-After honoured
  a = f.on_timer();
  EXPECT_EQ(a.request.url, "https://ca.test/authz/1");
  EXPECT_EQ(jws_of(a.request).header["nonce"], "n5");

  a = f.on_response(ok(authz("pending", "processing"), "n6"), 0);
  ASSERT_EQ(a.kind, Kind::wait);  // still pending: poll again, nothing re-served
  EXPECT_TRUE(a.effects.empty());
  a = f.on_timer();
  a = f.on_response(ok(authz("valid", "valid"), "n7"), 0);
  ASSERT_EQ(a.effects.size(), 1u);
  EXPECT_EQ(a.effects[0].kind, Effect::Kind::withdraw_http01);
  EXPECT_EQ(a.request.url, "https://ca.test/order/1");  // is the order ready?

  a = f.on_response(ok(order("ready"), "n8"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/finalize/1");
  auto csr = json::parse(jws_of(a.request).payload)["csr"].get<std::string>();
  EXPECT_GT(csr.size(), 100u);
  EXPECT_EQ(f.step(), "finalize");

  a = f.on_response(ok(order("processing"), "n9", 200, "", "Thu, 01 Jan 1970 00:00:10 GMT"), 4);
  ASSERT_EQ(a.kind, Kind::wait);
  EXPECT_EQ(a.delay, std::chrono::seconds(6));  // an HTTP-date Retry-After, relative to now
  a = f.on_timer();
  EXPECT_EQ(a.request.url, "https://ca.test/order/1");
  a = f.on_response(ok(order("valid", "https://ca.test/cert/1"), "n10"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/cert/1");
  EXPECT_EQ(a.request.accept, "application/pem-certificate-chain");
  const std::string chain = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"
                            "-----BEGIN CERTIFICATE-----\nBB==\n-----END CERTIFICATE-----\n";
  a = f.on_response(Response{200, chain, "application/pem-certificate-chain", "", "n11", ""}, 0);
  ASSERT_EQ(a.kind, Kind::done);
  EXPECT_EQ(a.chain_pem, chain);
  EXPECT_EQ(f.order_url(), "https://ca.test/order/1");
}

TEST_F(FlowTest, BadNonceRetriedWithTheErrorsNonce) {
  Flow f(settings(), account, "", {"a.example"}, cert);
  auto first = to_new_order(f);
  auto a = f.on_response(problem(400, "badNonce", "fresh-1"), 0);
  ASSERT_EQ(a.kind, Kind::send);
  EXPECT_EQ(a.request.url, "https://ca.test/order");
  auto h = jws_of(a.request);
  EXPECT_EQ(h.header["nonce"], "fresh-1");
  EXPECT_EQ(h.payload, jws_of(first.request).payload);
  // badNonce without a nonce in the error: a fresh one from newNonce, then the same request.
  a = f.on_response(problem(400, "badNonce", ""), 0);
  EXPECT_EQ(a.request.method, "HEAD");
  a = f.on_response(Response{200, "", "", "", "fresh-2", ""}, 0);
  EXPECT_EQ(a.request.url, "https://ca.test/order");
  EXPECT_EQ(jws_of(a.request).header["nonce"], "fresh-2");
  a = f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/authz/1");
  EXPECT_EQ(f.bad_nonce_retries(), 2);
}

TEST_F(FlowTest, BadNonceForeverFails) {
  auto s = settings();
  s.max_bad_nonce = 3;
  Flow f(s, account, "", {"a.example"}, cert);
  to_new_order(f);
  Action a;
  for (int i = 0; i < 3; ++i) {
    a = f.on_response(problem(400, "badNonce", "x" + std::to_string(i)), 0);
    ASSERT_EQ(a.kind, Kind::send);
  }
  a = f.on_response(problem(400, "badNonce", "y"), 0);
  ASSERT_EQ(a.kind, Kind::failed);
  ASSERT_TRUE(a.failure.problem);
  EXPECT_TRUE(a.failure.problem->is("badNonce"));
}

TEST_F(FlowTest, RateLimitedCarriesRetryAfterAndSubproblems) {
  Flow f(settings(), account, "", {"a.example"}, cert);
  to_new_order(f);
  json p{{"type", "urn:ietf:params:acme:error:rateLimited"},
         {"detail", "too many certificates"},
         {"status", 429},
         {"subproblems", {{{"type", "urn:ietf:params:acme:error:rateLimited"}, {"detail", "for this name"},
                           {"identifier", {{"type", "dns"}, {"value", "a.example"}}}}}}};
  auto a = f.on_response(Response{429, p.dump(), "application/problem+json", "", "n", "3600"}, 0);
  ASSERT_EQ(a.kind, Kind::failed);
  ASSERT_TRUE(a.failure.problem);
  EXPECT_TRUE(a.failure.problem->is("rateLimited"));
  EXPECT_EQ(a.failure.problem->status, 429);
  ASSERT_EQ(a.failure.problem->subproblems.size(), 1u);
  EXPECT_EQ(a.failure.problem->subproblems[0].identifier, "a.example");
  EXPECT_EQ(a.failure.retry_after, std::chrono::seconds(3600));
  EXPECT_NE(a.failure.message.find("order a.example: rateLimited: too many certificates"), std::string::npos)
      << a.failure.message;
}

TEST_F(FlowTest, InvalidChallengeWithdrawsAndFails) {
  Flow f(settings(), account, "", {"a.example"}, cert);
  to_new_order(f);
  auto a = f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
  a = f.on_response(ok(authz("pending"), "n4"), 0);
  ASSERT_EQ(a.effects.size(), 1u);
  a = f.on_response(ok({{"type", "http-01"}, {"status", "pending"}}, "n5"), 0);
  a = f.on_timer();
  json bad = authz("invalid", "invalid");
  bad["challenges"][1]["error"] = {{"type", "urn:ietf:params:acme:error:connection"}, {"detail", "refused"}};
  a = f.on_response(ok(bad, "n6"), 0);
  ASSERT_EQ(a.kind, Kind::failed);
  ASSERT_EQ(a.effects.size(), 1u);
  EXPECT_EQ(a.effects[0].kind, Effect::Kind::withdraw_http01);
  ASSERT_TRUE(a.failure.problem);
  EXPECT_TRUE(a.failure.problem->is("connection"));
  // Nothing more comes out of a finished flow.
  EXPECT_EQ(f.on_response(ok(authz("valid"), "n7"), 0).kind, Kind::failed);
}

TEST_F(FlowTest, KnownAccountSkipsNewAccountAndRecreatesAForgottenOne) {
  Flow f(settings(), account, "https://ca.test/acct/old", {"a.example"}, cert);
  auto a = f.start();
  a = f.on_response(ok(directory(), "n0"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/order");  // straight to newOrder (the directory gave a nonce)
  EXPECT_EQ(jws_of(a.request).header["kid"], "https://ca.test/acct/old");
  a = f.on_response(problem(400, "accountDoesNotExist", "n1"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/acct");
  EXPECT_TRUE(jws_of(a.request).header.contains("jwk"));
  a = f.on_response(ok({{"status", "valid"}}, "n2", 200, "https://ca.test/acct/new"), 0);
  EXPECT_EQ(a.request.url, "https://ca.test/order");
  EXPECT_EQ(jws_of(a.request).header["kid"], "https://ca.test/acct/new");
}

TEST_F(FlowTest, TlsAlpnEffectNamesTheHost) {
  auto s = settings();
  s.challenge = "tls-alpn-01";
  Flow f(s, account, "", {"a.example"}, cert);
  to_new_order(f);
  auto a = f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
  json az = authz("pending");
  az["challenges"].push_back({{"type", "tls-alpn-01"}, {"url", "https://ca.test/chal/alpn"}, {"token", kToken},
                              {"status", "pending"}});
  a = f.on_response(ok(az, "n4"), 0);
  ASSERT_EQ(a.effects.size(), 1u);
  EXPECT_EQ(a.effects[0].kind, Effect::Kind::serve_tls_alpn01);
  EXPECT_EQ(a.effects[0].key, "a.example");
  EXPECT_EQ(a.request.url, "https://ca.test/chal/alpn");
}

TEST_F(FlowTest, RefusesWhatItCannotUse) {
  {
    Flow f(settings(), account, "", {"a.example"}, cert);
    to_new_order(f);
    f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
    json az = authz("pending");
    az["challenges"].erase(1);  // dns-01 only
    auto a = f.on_response(ok(az, "n4"), 0);
    ASSERT_EQ(a.kind, Kind::failed);
    EXPECT_NE(a.failure.message.find("no http-01 challenge"), std::string::npos);
  }
  {
    Flow f(settings(), account, "", {"a.example"}, cert);
    to_new_order(f);
    f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
    json az = authz("pending");
    az["challenges"][1]["token"] = "../../../../etc/passwd-xxxxxxxxxxxxxx";
    auto a = f.on_response(ok(az, "n4"), 0);
    ASSERT_EQ(a.kind, Kind::failed);
    EXPECT_TRUE(a.effects.empty());  // never served
  }
  {
    Flow f(settings(), account, "", {"a.example"}, cert);
    f.start();
    auto a = f.on_response(Response{200, "<html>", "text/html", "", "", ""}, 0);
    ASSERT_EQ(a.kind, Kind::failed);
    EXPECT_NE(a.failure.message.find("directory"), std::string::npos);
  }
  {
    Flow f(settings(), account, "", {"a.example"}, cert);
    f.start();
    auto a = f.on_transport_error("connection refused");
    ASSERT_EQ(a.kind, Kind::failed);
    EXPECT_EQ(a.failure.message, "directory a.example: connection refused");
  }
}

TEST_F(FlowTest, PollingGivesUp) {
  auto s = settings();
  s.max_polls = 2;
  Flow f(s, account, "", {"a.example"}, cert);
  to_new_order(f);
  f.on_response(ok(order("pending"), "n3", 201, "https://ca.test/order/1"), 0);
  f.on_response(ok(authz("pending"), "n4"), 0);
  auto a = f.on_response(ok({{"type", "http-01"}, {"status", "pending"}}, "n5"), 0);
  ASSERT_EQ(a.kind, Kind::wait);
  f.on_timer();
  a = f.on_response(ok(authz("pending"), "n6"), 0);
  ASSERT_EQ(a.kind, Kind::wait);
  f.on_timer();
  a = f.on_response(ok(authz("pending"), "n7"), 0);
  ASSERT_EQ(a.kind, Kind::failed);
  EXPECT_NE(a.failure.message.find("still not done"), std::string::npos);
  ASSERT_EQ(a.effects.size(), 1u);  // the challenge is withdrawn
}

}  // namespace
}  // namespace porthole::acme
