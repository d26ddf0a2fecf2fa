#include "relay/oidc_fetch.hpp"

#include <openssl/evp.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "core/metrics.hpp"
#include "relay/jwks_cache.hpp"
#include "relay/policy_fetch.hpp"

namespace porthole::relay {

namespace {

std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

metrics::Counter& fetch_counter(bool ok) {
  static auto& good = metrics::counter("porthole_policy_oidc_fetches_total{result=\"ok\"}",
                                       "OIDC discovery and token fetches of oidc policies, by result");
  static auto& bad = metrics::counter("porthole_policy_oidc_fetches_total{result=\"error\"}",
                                      "OIDC discovery and token fetches of oidc policies, by result");
  return ok ? good : bad;
}

struct DiscoveryGuard {
  policy::OidcProvider& p;
  bool done = false;
  ~DiscoveryGuard() {
    if (!done) p.fetch_failed("the fetch was cancelled");
  }
};

std::string base64(std::string_view s) {
  std::string out(4 * ((s.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

policy::Decision failure(int status, std::string counter, std::string reason) {
  policy::Decision d;
  d.allow = false;
  d.status = status;
  d.counter = std::move(counter);
  d.reason = std::move(reason);
  return d;
}

}  // namespace

net::Task<void> refresh_oidc_discovery(std::shared_ptr<policy::OidcProvider> p) {
  if (!p->begin_fetch(mono_ms())) co_return;
  DiscoveryGuard guard{*p};
  auto ex = co_await net::asio::this_coro::executor;
  std::string url = p->issuer();
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/.well-known/openid-configuration";
  auto client = policy_fetch_client(ex, p->ca_file, p->fetch_allow, fmt::format("OIDC discovery {}", url));
  std::string err;
  if (!client) {
    err = client.error().message;
  } else {
    acme::Request req;
    req.method = "GET";
    req.url = url;
    req.accept = "application/json";
    auto r = co_await client->fetch(req);
    if (!r) {
      err = r.error().message;
    } else if (r->status != 200) {
      err = fmt::format("{}: HTTP status {}", url, r->status);
    } else {
      auto d = policy::parse_oidc_discovery(r->body, p->issuer());
      if (d) {
        spdlog::info("oidc: {}: authorization {}, token {} ({}), keys {}", p->issuer(), d->authorization_endpoint,
                     d->token_endpoint, d->client_secret_post ? "client_secret_post" : "client_secret_basic",
                     d->jwks_uri);
        fetch_counter(true).inc();
        guard.done = true;
        p->fetch_done(std::move(*d));
        co_return;
      }
      err = fmt::format("{}: {}", url, d.error().message);
    }
  }
  fetch_counter(false).inc();
  spdlog::warn("oidc: discovery of {}: {}", p->issuer(), err);
  guard.done = true;
  p->fetch_failed(err);
}

net::Task<policy::Decision> complete_oidc_login(std::shared_ptr<const policy::OidcExchange> x) {
  const auto& spec = *x->spec;
  auto prov = spec.provider;
  if (!prov->discovery()) {
    auto t = refresh_oidc_discovery(prov);
    co_await std::move(t);
  }
  const auto disc = prov->discovery();
  if (!disc) co_return failure(503, "oidc_provider_unavailable", "the identity provider is unavailable");
  auto ex = co_await net::asio::this_coro::executor;
  auto client = policy_fetch_client(ex, prov->ca_file, prov->fetch_allow, "OIDC token endpoint");
  if (!client) co_return failure(502, "oidc_token", client.error().message);
  acme::Request req;
  req.method = "POST";
  req.url = disc->token_endpoint;
  req.accept = "application/json";
  req.content_type = "application/x-www-form-urlencoded";
  req.body = fmt::format("grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
                         policy::form_encode(x->code), policy::form_encode(x->redirect_uri),
                         policy::form_encode(x->verifier));
  if (disc->client_secret_post) {
    req.body += fmt::format("&client_id={}&client_secret={}", policy::form_encode(spec.client_id),
                            policy::form_encode(spec.client_secret));
  } else {  // RFC 6749 §2.3.1: both form-encoded, then Basic
    req.authorization = "Basic " + base64(policy::form_encode(spec.client_id) + ":" +
                                          policy::form_encode(spec.client_secret));
  }
  auto r = co_await client->fetch(req);
  if (!r) {
    fetch_counter(false).inc();
    spdlog::warn("oidc: token endpoint of {}: {}", prov->issuer(), r.error().message);
    co_return failure(502, "oidc_token", "the identity provider's token endpoint could not be reached");
  }
  fetch_counter(r->status == 200).inc();
  auto jwks = prov->jwks();
  if (jwks && jwks->wants_fetch(mono_ms(), false)) {
    auto t = refresh_jwks(jwks);
    co_await std::move(t);
  }
  auto keys = jwks ? jwks->keys() : nullptr;
  bool unknown_kid = false;
  auto d = policy::finish_oidc_login(*x, r->status, r->body, keys.get(), unix_now(), &unknown_kid);
  if (unknown_kid && jwks && jwks->wants_fetch(mono_ms(), true)) {  // the provider rotated its keys
    auto t = refresh_jwks(jwks);
    co_await std::move(t);
    keys = jwks->keys();
    d = policy::finish_oidc_login(*x, r->status, r->body, keys.get(), unix_now());
  }
  co_return d;
}

}  // namespace porthole::relay
