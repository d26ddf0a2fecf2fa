// HTTP endpoints: a host name routed by the shared HTTP listener (http_listener.cpp). The name
// is a custom --hostname, a --subdomain of the relay's domain, or a random readable name that
// the token + tunnel keep. Names are owned by the token that took them first (SQLite).
#include <random>

#include <spdlog/spdlog.h>

#include "core/hostname.hpp"
#include "relay/endpoint_kinds.hpp"
#include "relay/scopes.hpp"

namespace porthole::relay {

namespace {

class HttpEndpoint final : public Endpoint {
 public:
  HttpEndpoint(std::string host, std::string token, std::string url)
      : Endpoint("http", std::move(host), std::move(token), std::move(url)) {}
};

// The host name this bind asks for, checked against the token's scopes; `random` when the
// relay chose it.
Result<std::string> choose_host(BindContext& ctx, const BindRequest& req, bool& random) {
  const auto& b = req.bind;
  random = false;
  if (!b.hostname.empty()) {
    auto host = normalize_hostname(b.hostname, true);
    if (!host) return make_error("--hostname {}: {}", b.hostname, host.error().message);
    if (!hostname_allowed(req.token.scopes, *host)) {
      return make_error(Errc::forbidden, "this token may not use the host name {} (allowed: {})", *host,
                        req.token.scopes.allow_hostname);
    }
    return host;
  }
  if (!b.subdomain.empty()) {
    auto host = subdomain_host(b.subdomain, ctx.cfg.domain);
    if (!host) return make_error("--subdomain {}: {}", b.subdomain, host.error().message);
    if (!subdomain_allowed(req.token.scopes, b.subdomain)) {
      return make_error(Errc::forbidden, "this token may not use the subdomain {} (allowed: {})", b.subdomain,
                        req.token.scopes.allow_subdomain);
    }
    return host;
  }
  random = true;
  if (auto kept = ctx.store.random_hostname(req.token.name, b.tunnel)) return *kept;
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const auto r = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    auto host = subdomain_host(random_readable_name(r), ctx.cfg.domain);
    if (!host) return host.error();
    if (!ctx.store.hostname_owner(*host) && !ctx.registry.find("http", *host)) return host;
  }
  return make_error("could not find a free random host name; ask for one with --subdomain");
}

std::string url_for(const BindContext& ctx, const std::string& host) {
  if (ctx.http_port == 80 || ctx.http_port == 0) return "http://" + host;
  return fmt::format("http://{}:{}", host, ctx.http_port);
}

}  // namespace

Result<Bound> bind_http(BindContext& ctx, const BindRequest& req) {
  if (ctx.http_port == 0) return make_error("this relay serves no HTTP (its --http listener is off)");
  bool random = false;
  auto host = choose_host(ctx, req, random);
  if (!host) return host.error();
  if (auto r = ctx.store.claim_hostname(*host, req.token.name, req.bind.tunnel, random); !r) {
    return Error{r.error().message, Errc::conflict};
  }
  if (auto ep = ctx.registry.find("http", *host)) {
    if (ep->token() != req.token.name) return make_error(Errc::conflict, "host name {} is held by another token", *host);
    return Bound{ep, attach_member(*ep, req)};
  }
  auto ep = std::make_shared<HttpEndpoint>(*host, req.token.name, url_for(ctx, *host));
  auto displaced = attach_member(*ep, req);
  ctx.registry.add(ep, true);
  return Bound{ep, std::move(displaced)};
}

}  // namespace porthole::relay
