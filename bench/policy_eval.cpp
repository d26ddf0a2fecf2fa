// The per-request cost of the policy step (issue 11): `policy::decide` for bench/policy.sh's
// 10-rule policy (bench/policy-rules.toml, the credentials sent), against no policy. Google Benchmark; no sockets. See docs/benchmarks.md.
//
//   build/bench/policy_eval [--benchmark_min_time=1s]
#include <benchmark/benchmark.h>

#include <openssl/hmac.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
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

// bench/policy-rules.toml with the password hash and the JWT secret filled in.
std::string policy_text(const std::string& hash) {
  std::ifstream f(PORTHOLE_BENCH_DIR "/policy-rules.toml");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto fill = [&text](std::string_view name, const std::string& value) {
    for (auto at = text.find(name); at != std::string::npos; at = text.find(name, at + value.size())) {
      text.replace(at, name.size(), value);
    }
  };
  fill("@PASS_HASH@", hash);
  fill("@JWT_SECRET@", kJwtSecret);
  return text;
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
