// The per-request cost of the policy step (issue 11): `policy::decide` for bench/policy.sh's
// 10-rule policy (IP rules, a header regex, a regex path, a glob, a query test, a time window, a
// rate limit that is not hit, basic auth and an HS256 JWT with the credentials sent, header
// edits), against an empty policy. Google Benchmark; no sockets. See docs/benchmarks.md.
//
//   build/bench/policy_eval [--benchmark_min_time=1s]
#include <benchmark/benchmark.h>

#include <openssl/hmac.h>

#include <chrono>
#include <ctime>
#include <string>

#include "config/policy_file.hpp"
#include "core/encoding.hpp"
#include "policy/basic_auth.hpp"
#include "policy/decision.hpp"

namespace {

using namespace porthole;

const std::string kJwtSecret = "bench-jwt-secret-0123456789abcdef0123";

std::string hs256_token() {
  const auto b64 = [](std::string_view s) {
    return encoding::base64url_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
  };
  const auto exp = std::time(nullptr) + 86400;
  const std::string signing = b64(R"({"alg":"HS256","typ":"JWT"})") + "." +
                              b64(R"({"iss":"bench","aud":"bench","sub":"bench","exp":)" + std::to_string(exp) + "}");
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kJwtSecret.data(), static_cast<int>(kJwtSecret.size()),
       reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &len);
  return signing + "." + b64(std::string_view(reinterpret_cast<const char*>(mac), len));
}

std::string policy_text(const std::string& hash) {
  return R"P([[on_http_request]]
name = "deny list"
when = { ip = ["198.51.100.0/24", "2001:db8:bad::/48"] }
actions = [{ type = "deny" }]
[[on_http_request]]
name = "office admin"
when = { path_prefix = "/admin", not_ip = ["10.0.0.0/8"] }
actions = [{ type = "deny" }]
[[on_http_request]]
name = "bots"
when = { header = { name = "User-Agent", matches = "(?i)(sqlmap|nikto)" } }
actions = [{ type = "deny" }]
[[on_http_request]]
name = "private api"
when = { path_regex = "^/api/v[0-9]+/private/" }
actions = [{ type = "deny", status = 404 }]
[[on_http_request]]
name = "maps"
when = { path_glob = "/static/*.map" }
actions = [{ type = "deny", status = 404 }]
[[on_http_request]]
name = "debug"
when = { query = { name = "debug", present = true } }
actions = [{ type = "deny", status = 400 }]
[[on_http_request]]
name = "night"
when = { time = { days = ["sun"], from = "03:00", to = "03:01" } }
actions = [{ type = "custom-response", status = 503, body = "maintenance" }]
[[on_http_request]]
name = "old"
when = { path_prefix = "/old/" }
actions = [{ type = "redirect", to = "https://example.com", keep_path = true }]
[[on_http_request]]
name = "everyone else"
actions = [
  { type = "rate-limit", rate = "1000000/s" },
  { type = "basic-auth", users = ["bench:)P" + hash + R"P("] },
  { type = "jwt", header = "X-Token", issuer = "bench", audience = "bench", secret = ")P" + kJwtSecret + R"P(" },
  { type = "add-headers", headers = { X-Policy = "on" } },
]
)P";
}

void run(benchmark::State& state, const policy::Policy* p) {
  const std::string token = hs256_token();
  const std::string auth = "Basic YmVuY2g6YmVuY2ggcGFzcw==";  // bench:bench pass
  policy::Input in;
  in.ip = "127.0.0.1";
  in.method = "GET";
  in.host = "pol.localhost";
  in.target = "/index.html";
  in.headers = {{"Host", "pol.localhost"}, {"User-Agent", "wrk"}, {"Authorization", auth}, {"X-Token", token}};
  std::int64_t n = 0;
  for (auto _ : state) {
    in.unix_seconds = std::time(nullptr);
    in.now_ms = ++n;
    auto d = policy::decide(nullptr, p, policy::Phase::http_request, in);
    if (!d.allow) {
      state.SkipWithError(("denied: " + d.reason).c_str());
      break;
    }
    benchmark::DoNotOptimize(d);
  }
}

void BM_NoPolicy(benchmark::State& state) { run(state, nullptr); }
BENCHMARK(BM_NoPolicy);

void BM_TenRules(benchmark::State& state) {
  auto hash = policy::hash_password("bench pass", 10);
  auto p = config::parse_policy(policy_text(hash.value()), "bench");
  if (!p) {
    state.SkipWithError(p.error().message.c_str());
    return;
  }
  run(state, p.value().get());
}
BENCHMARK(BM_TenRules);

}  // namespace

BENCHMARK_MAIN();
