// JWT verification (policy/jwt.*): the RFC 7515 / RFC 8037 examples, alg none and key-type
// confusion refused, kid lookup, claims with skew, JWKS parsing, the fetch schedule, and the
// `jwt` action in a policy (401s, identity, forwarded claims).
#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "config/policy_file.hpp"
#include "core/encoding.hpp"
#include "policy/decision.hpp"
#include "policy/jwt.hpp"
#include "policy/jwt_action.hpp"

namespace porthole::policy {
namespace {

std::string b64(std::string_view s) {
  return encoding::base64url_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

std::string hs256(std::string_view header, std::string_view claims, std::string_view secret) {
  const std::string input = b64(header) + "." + b64(claims);
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  return input + "." + encoding::base64url_encode({mac, len});
}

// RFC 7515 A.1 (HS256), A.2 (RS256), A.3 (ES256); RFC 8037 A.4 (Ed25519).
constexpr std::string_view kA1Key = R"({"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})";
constexpr std::string_view kA1 =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view kA2Key =
    R"({"kty":"RSA","kid":"2011-04-29","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"})";
constexpr std::string_view kA2 =
    "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_"
    "nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
constexpr std::string_view kA3Key =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
constexpr std::string_view kA3 =
    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr std::string_view kEdKey = R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kEd =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
constexpr std::int64_t kExp = 1300819380;

KeySet keys(std::string_view jwks) {
  auto k = parse_jwks(jwks);
  EXPECT_TRUE(k) << (k ? "" : k.error().message);
  return k ? *k : KeySet{};
}

JwtRules rules() {
  JwtRules r;
  r.issuers = {"joe"};
  return r;
}

TEST(Jwt, RfcExamplesVerify) {
  EXPECT_TRUE(jws_signature_ok(kA1, keys(kA1Key).keys.at(0)));
  EXPECT_TRUE(jws_signature_ok(kA2, keys(kA2Key).keys.at(0)));
  EXPECT_TRUE(jws_signature_ok(kA3, keys(kA3Key).keys.at(0)));
  EXPECT_TRUE(jws_signature_ok(kEd, keys(kEdKey).keys.at(0)));
  // One bit off in the signing input, and they all fail.
  auto flip = [](std::string_view t) {
    std::string s(t);
    s[s.find('.') + 3] ^= 1;
    return s;
  };
  EXPECT_FALSE(jws_signature_ok(flip(kA1), keys(kA1Key).keys.at(0)));
  EXPECT_FALSE(jws_signature_ok(flip(kA2), keys(kA2Key).keys.at(0)));
  EXPECT_FALSE(jws_signature_ok(flip(kA3), keys(kA3Key).keys.at(0)));
  EXPECT_FALSE(jws_signature_ok(flip(kEd), keys(kEdKey).keys.at(0)));
}

TEST(Jwt, ClaimsAndSkew) {
  for (auto [token, key] : {std::pair{kA1, kA1Key}, std::pair{kA2, kA2Key}, std::pair{kA3, kA3Key}}) {
    const auto ks = keys(key);
    auto v = verify_jwt(token, ks, rules(), kExp - 100);
    EXPECT_TRUE(v.ok) << v.error.reason;
    EXPECT_EQ(v.claims.value("iss", ""), "joe");
    EXPECT_TRUE(verify_jwt(token, ks, rules(), kExp + 59).ok);  // within the 60 s skew
    v = verify_jwt(token, ks, rules(), kExp + 60);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.error.counter, "jwt_expired");
    auto r = rules();
    r.skew_s = 0;
    EXPECT_EQ(verify_jwt(token, ks, r, kExp).error.counter, "jwt_expired");
    r.issuers = {"someone else"};
    EXPECT_EQ(verify_jwt(token, ks, r, kExp - 100).error.counter, "jwt_issuer");
    r = rules();
    r.audiences = {"api"};  // the examples have no aud
    EXPECT_EQ(verify_jwt(token, ks, r, kExp - 100).error.counter, "jwt_audience");
    r = rules();
    r.required = {"exp", "sub"};
    EXPECT_EQ(verify_jwt(token, ks, r, kExp - 100).error.counter, "jwt_claims");
  }
}

const std::string kSecret = "0123456789abcdef0123456789abcdef";

TEST(Jwt, AudienceListsNbfIat) {
  KeySet ks;
  ks.keys.push_back(secret_key(kSecret));
  JwtRules r;
  r.audiences = {"api", "web"};
  const auto t = [&](std::string_view claims) { return hs256(R"({"alg":"HS256"})", claims, kSecret); };
  EXPECT_TRUE(verify_jwt(t(R"({"aud":["x","web"],"exp":2000})"), ks, r, 1000).ok);
  EXPECT_TRUE(verify_jwt(t(R"({"aud":"api","exp":2000})"), ks, r, 1000).ok);
  EXPECT_EQ(verify_jwt(t(R"({"aud":["x"],"exp":2000})"), ks, r, 1000).error.counter, "jwt_audience");
  EXPECT_EQ(verify_jwt(t(R"({"aud":[1],"exp":2000})"), ks, r, 1000).error.counter, "jwt_audience");
  EXPECT_EQ(verify_jwt(t(R"({"aud":"api","exp":2000,"nbf":1100})"), ks, r, 1000).error.counter, "jwt_not_yet_valid");
  EXPECT_TRUE(verify_jwt(t(R"({"aud":"api","exp":2000,"nbf":1050})"), ks, r, 1000).ok);  // skew
  EXPECT_EQ(verify_jwt(t(R"({"aud":"api","exp":2000,"iat":1100})"), ks, r, 1000).error.counter, "jwt_not_yet_valid");
  EXPECT_EQ(verify_jwt(t(R"({"aud":"api","exp":"2000"})"), ks, r, 1000).error.counter, "jwt_claims");
  EXPECT_EQ(verify_jwt(t(R"({"aud":"api"})"), ks, r, 1000).error.counter, "jwt_claims");  // exp required
  r.required.clear();
  EXPECT_TRUE(verify_jwt(t(R"({"aud":"api"})"), ks, r, 1000).ok);
}

TEST(Jwt, AlgNoneAndConfusionRefused) {
  const auto rsa = keys(kA2Key);
  const std::string claims = R"({"iss":"joe","exp":2000000000})";
  // alg none, with and without a signature part.
  for (auto alg : {"none", "None", "NONE"}) {
    const std::string t = b64(fmt::format(R"({{"alg":"{}"}})", alg)) + "." + b64(claims) + ".";
    auto v = verify_jwt(t, rsa, rules(), 1000);
    EXPECT_FALSE(v.ok);
    EXPECT_EQ(v.error.counter, "jwt_alg");
  }
  EXPECT_EQ(verify_jwt(b64(R"({"alg":"HS512"})") + "." + b64(claims) + ".AA", rsa, rules(), 1000).error.counter, "jwt_alg");
  // HS256 "signed" with the RSA key's own JWK text (what a confused verifier would use as secret).
  auto confused = hs256(R"({"alg":"HS256","kid":"2011-04-29"})", claims, kA2Key);
  auto v = verify_jwt(confused, rsa, rules(), 1000);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error.counter, "jwt_alg");
  EXPECT_FALSE(v.unknown_kid);  // no refetch for it either
  // A JWK whose alg says RS256 is not used for another alg of its type family either.
  auto ks = keys(R"({"kty":"oct","alg":"HS512","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})");
  EXPECT_EQ(verify_jwt(kA1, ks, rules(), kExp - 10).error.counter, "jwt_alg");
  // An alg the policy does not list.
  auto r = rules();
  r.algorithms = {JwtAlg::rs256};
  EXPECT_EQ(verify_jwt(kA1, keys(kA1Key), r, kExp - 10).error.counter, "jwt_alg");
  // ES256 signature bytes are r||s: a DER signature is refused.
  EXPECT_FALSE(jws_signature_ok(std::string(kA3.substr(0, kA3.rfind('.') + 1)) + "MEUCIQ", keys(kA3Key).keys.at(0)));
}

TEST(Jwt, KidLookup) {
  KeySet ks;
  ks.keys.push_back(secret_key(kSecret));
  ks.keys[0].kid = "one";
  auto other = secret_key("another-secret-of-thirty-two-bytes!!");
  other.kid = "two";
  ks.keys.push_back(other);
  JwtRules r;
  r.required.clear();
  EXPECT_TRUE(verify_jwt(hs256(R"({"alg":"HS256","kid":"one"})", "{}", kSecret), ks, r, 0).ok);
  EXPECT_EQ(verify_jwt(hs256(R"({"alg":"HS256","kid":"two"})", "{}", kSecret), ks, r, 0).error.counter,
            "jwt_bad_signature");
  auto v = verify_jwt(hs256(R"({"alg":"HS256","kid":"three"})", "{}", kSecret), ks, r, 0);
  EXPECT_EQ(v.error.counter, "jwt_unknown_kid");
  EXPECT_TRUE(v.unknown_kid);
  EXPECT_TRUE(verify_jwt(hs256(R"({"alg":"HS256"})", "{}", kSecret), ks, r, 0).ok);  // no kid: every fitting key
}

TEST(Jwt, MalformedTokens) {
  KeySet ks;
  ks.keys.push_back(secret_key(kSecret));
  JwtRules r;
  const auto good = hs256(R"({"alg":"HS256"})", R"({"exp":2000})", kSecret);
  ASSERT_TRUE(verify_jwt(good, ks, r, 1000).ok);
  for (std::string bad : {std::string(), std::string("abc"), std::string("a.b"), good + ".x", good + "=",
                          std::string(good).insert(good.find('.'), "="), "!" + good,
                          b64("[1]") + "." + b64("{}") + ".", b64(R"({"alg":"HS256"})") + "." + b64("[]") + ".",
                          b64(R"({"alg":"HS256","crit":["exp"]})") + "." + b64("{}") + ".",
                          b64(R"({"alg":"HS256","kid":7})") + "." + b64("{}") + ".",
                          b64(R"({"alg":"HS256"})") + "." + b64("{\"a\":") + ".", std::string(kMaxJwt + 1, 'a')}) {
    auto v = verify_jwt(bad, ks, r, 1000);
    EXPECT_FALSE(v.ok) << bad;
    EXPECT_EQ(v.error.counter, "jwt_malformed") << bad;
  }
  // Tampered payload, tampered signature.
  auto t = good;
  t[t.find('.') + 2] ^= 1;
  EXPECT_FALSE(verify_jwt(t, ks, r, 1000).ok);
  t = good;
  t.back() = t.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(verify_jwt(t, ks, r, 1000).ok);
}

TEST(Jwt, JwksParsing) {
  std::size_t skipped = 0;
  auto ks = parse_jwks(fmt::format(R"({{"keys":[{},{},{},{{"kty":"RSA","use":"enc","n":"x","e":"y"}},{{"kty":"EC","crv":"P-384","x":"a","y":"b"}},{{"kty":"XYZ"}}]}})",
                                   kA2Key, kA3Key, kEdKey),
                       &skipped);
  ASSERT_TRUE(ks) << ks.error().message;
  EXPECT_EQ(ks->keys.size(), 3u);
  EXPECT_EQ(skipped, 3u);
  EXPECT_EQ(ks->keys[0].kid, "2011-04-29");
  // Private parts, short RSA moduli, points off the curve, bad base64url: refused.
  EXPECT_FALSE(parse_jwks(R"({"kty":"RSA","n":"AQAB","e":"AQAB"})"));
  EXPECT_FALSE(parse_jwks(R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"})"));
  EXPECT_FALSE(parse_jwks(R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"})"));
  EXPECT_FALSE(parse_jwks(R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR="})"));
  EXPECT_FALSE(parse_jwks(R"({"kty":"oct","k":"c2hvcnQ"})"));  // under 32 bytes
  EXPECT_FALSE(parse_jwks(R"({"keys":{}})"));
  EXPECT_FALSE(parse_jwks("[]"));
  EXPECT_FALSE(parse_jwks("{"));
  EXPECT_FALSE(parse_jwks(std::string(kMaxJwks + 1, ' ')));
}

TEST(Jwt, FetchSchedule) {
  JwksSource s("https://idp.example/jwks", 10);
  EXPECT_TRUE(s.wants_fetch(0, false));  // none yet
  ASSERT_TRUE(s.begin_fetch(0));
  EXPECT_FALSE(s.begin_fetch(1));  // one at a time
  s.fetch_done(std::make_shared<const KeySet>(keys(kA2Key)), 0, 300);
  EXPECT_FALSE(s.wants_fetch(5000, false));  // fresh
  EXPECT_FALSE(s.wants_fetch(5000, true));   // unknown kid, but inside the refresh limit
  EXPECT_TRUE(s.wants_fetch(10000, true));
  ASSERT_TRUE(s.begin_fetch(10000));
  s.fetch_failed("connection refused", 14000);  // a slow failure: the limit counts from its end
  ASSERT_TRUE(s.keys());
  EXPECT_EQ(s.keys()->keys.size(), 1u);  // a failed refresh keeps what we had
  EXPECT_EQ(s.last_error(), "connection refused");
  EXPECT_FALSE(s.wants_fetch(23000, true));
  EXPECT_TRUE(s.wants_fetch(24000, true));
  EXPECT_FALSE(s.wants_fetch(299000, false));
  EXPECT_TRUE(s.wants_fetch(300000, false));  // stale after max-age
  EXPECT_EQ(s.fetches(), 2u);
  EXPECT_EQ(jwks_max_age("public, max-age=600"), 600);
  EXPECT_EQ(jwks_max_age("max-age=1"), 30);
  EXPECT_EQ(jwks_max_age("max-age=99999999999999"), 86400);
  EXPECT_EQ(jwks_max_age(""), 300);
  EXPECT_EQ(jwks_max_age("no-store"), 30);
}

std::shared_ptr<Policy> compile(std::string_view text) {
  auto p = config::parse_policy(text, "p.toml");
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : std::make_shared<Policy>();
}

const Header* find(const std::vector<Header>& hs, std::string_view name) {
  for (const auto& h : hs) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

TEST(JwtAction, PolicyDecisions) {
  auto p = compile(fmt::format(R"(
[[on_http_request]]
name = "api"
when = {{ path_prefix = "/api" }}
[[on_http_request.actions]]
type = "jwt"
issuer = ["https://idp.example"]
audience = "api"
secret = "{}"
forward_claims = {{ email = "X-Jwt-Email", groups = "X-Jwt-Groups" }}
cookie = "token"
)",
                               kSecret));
  ASSERT_EQ(p->protected_headers.size(), 2u);
  Input in;
  in.ip = "192.0.2.1";
  in.method = "GET";
  in.target = "/api/x";
  in.unix_seconds = 1000;
  auto d = evaluate(*p, Phase::http_request, in, true);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.status, 401);
  EXPECT_EQ(d.counter, "jwt_missing");
  EXPECT_EQ(find(d.response_headers, "WWW-Authenticate")->value, "Bearer realm=\"porthole\"");

  const auto token = hs256(R"({"alg":"HS256"})",
                           R"({"iss":"https://idp.example","aud":"api","exp":2000,"sub":"alice","email":"a@x","groups":["a","b"]})",
                           kSecret);
  const std::string bearer = "Bearer " + token;
  in.headers = {{"Authorization", bearer}};
  d = evaluate(*p, Phase::http_request, in, true);
  EXPECT_TRUE(d.allow) << d.reason;
  EXPECT_EQ(d.identity, "alice");
  ASSERT_NE(find(d.add_headers, "X-Jwt-Email"), nullptr);
  EXPECT_EQ(find(d.add_headers, "X-Jwt-Email")->value, "a@x");
  EXPECT_EQ(find(d.add_headers, "X-Jwt-Groups")->value, R"(["a","b"])");
  EXPECT_EQ(d.remove_headers.size(), 2u);

  const std::string cookie = "a=b; token=" + token;
  in.headers = {{"Cookie", cookie}};
  EXPECT_TRUE(evaluate(*p, Phase::http_request, in).allow);

  in.unix_seconds = 5000;
  in.headers = {{"Authorization", bearer}};
  d = evaluate(*p, Phase::http_request, in, true);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.counter, "jwt_expired");
  EXPECT_EQ(find(d.response_headers, "WWW-Authenticate")->value,
            "Bearer realm=\"porthole\", error=\"invalid_token\", error_description=\"the token expired\"");
  bool traced = false;
  for (const auto& t : d.trace) traced = traced || t.find("answer 401: the token expired") != std::string::npos;
  EXPECT_TRUE(traced);
  in.headers = {{"Authorization", "Basic YTpi"}};
  EXPECT_EQ(evaluate(*p, Phase::http_request, in).counter, "jwt_missing");
}

// GET / with RFC 7515 A.2's RS256 token as the bearer, just before it expires.
Input rfc_a2_request() {
  static const std::string bearer = "Bearer " + std::string(kA2);
  Input in;
  in.ip = "192.0.2.1";
  in.method = "GET";
  in.target = "/";
  in.headers = {{"Authorization", bearer}};
  in.unix_seconds = kExp - 10;
  return in;
}

TEST(JwtAction, JwksUrlAsksForKeysAndFailsClosed) {
  auto p = compile(R"(
[[on_http_request]]
name = "api"
actions = [{ type = "jwt", jwks_url = "https://idp.example/jwks", jwks_refresh = 30 }]
)");
  Input in = rfc_a2_request();
  auto d = decide(nullptr, p.get(), Phase::http_request, in);
  EXPECT_FALSE(d.allow);  // never allowed while the keys are missing
  ASSERT_TRUE(d.needs_keys);
  EXPECT_EQ(d.needs_keys->url(), "https://idp.example/jwks");
  ASSERT_TRUE(d.needs_keys->begin_fetch(0));
  d.needs_keys->fetch_done(std::make_shared<const KeySet>(keys(kA2Key)), 0, 300);
  in.keys_refreshed = true;
  d = decide(nullptr, p.get(), Phase::http_request, in);
  EXPECT_TRUE(d.allow) << d.reason;
  // A failed fetch and no keys: 401, not allowed.
  auto q = compile(R"(
[[on_http_request]]
name = "api"
actions = [{ type = "jwt", jwks_url = "https://idp.example/jwks" }]
)");
  d = decide(nullptr, q.get(), Phase::http_request, in);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.counter, "jwt_keys_unavailable");
}

// A verified token is remembered (not parsed and verified on every request), but only while the
// keys it was verified with are current: after a JWKS refresh it is checked again.
TEST(JwtAction, RememberedTokensAreCheckedAgainWithNewKeys) {
  auto p = compile(R"(
[[on_http_request]]
name = "api"
actions = [{ type = "jwt", jwks_url = "https://idp.example/jwks" }]
)");
  Input in = rfc_a2_request();
  auto d = decide(nullptr, p.get(), Phase::http_request, in);
  ASSERT_TRUE(d.needs_keys);
  auto src = d.needs_keys;
  ASSERT_TRUE(src->begin_fetch(0));
  src->fetch_done(std::make_shared<const KeySet>(keys(kA2Key)), 0, 300);
  in.keys_refreshed = true;
  EXPECT_TRUE(decide(nullptr, p.get(), Phase::http_request, in).allow);
  EXPECT_TRUE(decide(nullptr, p.get(), Phase::http_request, in).allow);  // remembered
  // The provider rotated its keys: the RSA key is gone, so the same token no longer holds.
  ASSERT_TRUE(src->begin_fetch(100000));
  src->fetch_done(std::make_shared<const KeySet>(keys(kA3Key)), 100000, 300);
  d = decide(nullptr, p.get(), Phase::http_request, in);
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.counter, "jwt_alg");
  // And a remembered token past its exp (+ skew) is refused like any expired one.
  ASSERT_TRUE(src->begin_fetch(200000));
  src->fetch_done(std::make_shared<const KeySet>(keys(kA2Key)), 200000, 300);
  EXPECT_TRUE(decide(nullptr, p.get(), Phase::http_request, in).allow);
  in.unix_seconds = kExp + 60;
  EXPECT_EQ(decide(nullptr, p.get(), Phase::http_request, in).counter, "jwt_expired");
}

// A request decided again after the JWKS fetch it waited for is one request for rate limits:
// the rate-limit actions the first run counted are not counted again.
TEST(JwtAction, RateLimitsCountARetriedRequestOnce) {
  auto p = compile(R"(
[[on_http_request]]
name = "api"
actions = [{ type = "rate-limit", rate = "1/m" }, { type = "jwt", jwks_url = "https://idp.example/jwks" }]
)");
  Input in = rfc_a2_request();
  in.now_ms = 1000;
  auto d = decide(nullptr, p.get(), Phase::http_request, in);
  ASSERT_TRUE(d.needs_keys);
  EXPECT_EQ(d.rate_hits, 1);
  ASSERT_TRUE(d.needs_keys->begin_fetch(0));
  d.needs_keys->fetch_done(std::make_shared<const KeySet>(keys(kA2Key)), 0, 300);
  in.keys_refreshed = true;
  in.rate_hits_done = d.rate_hits;
  d = decide(nullptr, p.get(), Phase::http_request, in);
  EXPECT_TRUE(d.allow) << d.reason;  // counted twice, this would be a 429
  in.keys_refreshed = false;
  in.rate_hits_done = 0;
  d = decide(nullptr, p.get(), Phase::http_request, in);  // the next request is over the limit
  EXPECT_EQ(d.status, 429);
}

TEST(JwtAction, ProblemsNeverShowTheSecret) {
  auto p = config::parse_policy(R"(
[[on_http_request]]
name = "a"
actions = [{ type = "jwt", secret = "hunter2-short" }]
[[on_http_request]]
name = "b"
actions = [{ type = "jwt" }]
[[on_http_request]]
name = "c"
actions = [{ type = "jwt", jwks_file = "keys.json" }]
[[on_http_request]]
name = "d"
actions = [{ type = "jwt", jwks_url = "http://idp/jwks", skew = 9000, algorithms = ["none"], forward_claims = { sub = "Host" } }]
)",
                                "p.toml");
  ASSERT_FALSE(p);
  const auto& m = p.error().message;
  EXPECT_EQ(m.find("hunter2"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[0].actions[0].secret: an HS256 secret needs at least 32 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[1].actions[0].jwks_url: give exactly one"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[2].actions[0].jwks_file: jwks_file is read from a policy file"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[3].actions[0].jwks_url: expected an https:// URL"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[3].actions[0].skew"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[3].actions[0].algorithms: 'none'"), std::string::npos) << m;
  EXPECT_NE(m.find("on_http_request[3].actions[0].forward_claims"), std::string::npos) << m;
}

TEST(JwtAction, JwksFileIsInlinedByTheReader) {
  const config::FileReader files = [](const std::string& name) -> Result<std::string> {
    if (name == "keys.json") return std::string(kA2Key);
    return make_error("{}: no such file", name);
  };
  auto p = config::parse_policy(R"(
[[on_http_request]]
name = "a"
actions = [{ type = "jwt", jwks_file = "keys.json" }]
)",
                                "p.toml", nullptr, &files);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_NE((*p)->canonical.find("jwks = "), std::string::npos);
  EXPECT_EQ((*p)->canonical.find("jwks_file"), std::string::npos);
  auto again = config::parse_policy((*p)->canonical, "bind");  // what the relay compiles
  ASSERT_TRUE(again) << again.error().message;
  auto q = config::parse_policy(R"(
[[on_http_request]]
name = "a"
actions = [{ type = "jwt", jwks_file = "missing.json" }]
)",
                                "p.toml", nullptr, &files);
  ASSERT_FALSE(q);
  EXPECT_NE(q.error().message.find("missing.json: no such file"), std::string::npos);
}

}  // namespace
}  // namespace porthole::policy
