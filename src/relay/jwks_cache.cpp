#include "relay/jwks_cache.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include "acme/https_client.hpp"
#include "core/metrics.hpp"
#include "policy/jwt_action.hpp"
#include "relay/policy_fetch.hpp"

namespace porthole::relay {

namespace {

std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

metrics::Counter& fetch_counter(bool ok) {
  static auto& good = metrics::counter("porthole_policy_jwks_fetches_total{result=\"ok\"}",
                                       "JWKS fetches for jwt policies, by result");
  static auto& bad = metrics::counter("porthole_policy_jwks_fetches_total{result=\"error\"}",
                                      "JWKS fetches for jwt policies, by result");
  return ok ? good : bad;
}

// Ends the fetch however the coroutine ends (a cancelled or destroyed request included), so
// the source never stays "in flight".
struct FetchGuard {
  policy::JwksSource& src;
  bool done = false;
  ~FetchGuard() {
    if (!done) src.fetch_failed("the fetch was cancelled", mono_ms());
  }
};

}  // namespace

net::Task<void> refresh_jwks(std::shared_ptr<policy::JwksSource> src) {
  if (!src->begin_fetch(mono_ms())) co_return;
  FetchGuard guard{*src};
  auto ex = co_await net::asio::this_coro::executor;
  auto client = policy_fetch_client(ex, src->ca_file, src->fetch_allow, fmt::format("JWKS {}", src->url()));
  if (!client) {
    fetch_counter(false).inc();
    spdlog::warn("jwt: JWKS {}: {}", src->url(), client.error().message);
    guard.done = true;
    src->fetch_failed(client.error().message, mono_ms());
    co_return;
  }
  acme::Request req;
  req.method = "GET";
  req.url = src->url();
  req.accept = "application/jwk-set+json, application/json";
  auto r = co_await client->fetch(req);
  std::string err;
  if (!r) {
    err = r.error().message;
  } else if (r->status != 200) {
    err = fmt::format("HTTP status {}", r->status);
  } else {
    std::size_t skipped = 0;
    auto keys = policy::parse_jwks(r->body, &skipped);
    if (!keys) {
      err = keys.error().message;
    } else if (keys->keys.empty()) {
      err = "no usable signing key in the JWKS";
    } else {
      const auto max_age = policy::jwks_max_age(r->cache_control);
      spdlog::info("jwt: JWKS {}: {} keys ({} skipped), cached for {} s", src->url(), keys->keys.size(), skipped,
                   max_age);
      fetch_counter(true).inc();
      guard.done = true;
      src->fetch_done(std::make_shared<const policy::KeySet>(std::move(*keys)), mono_ms(), max_age);
      co_return;
    }
  }
  fetch_counter(false).inc();
  spdlog::warn("jwt: JWKS {}: {} (keeping the cached keys)", src->url(), err);
  guard.done = true;
  src->fetch_failed(err, mono_ms());
}

}  // namespace porthole::relay
