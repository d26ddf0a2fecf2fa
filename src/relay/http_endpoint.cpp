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

// http and tls endpoints: a host name in the route table, served by the shared listeners.
class HostEndpoint final : public Endpoint {
 public:
  HostEndpoint(std::string kind, std::string host, std::string token, std::string url)
      : Endpoint(std::move(kind), std::move(host), std::move(token), std::move(url)) {}
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

std::string url_for(std::string_view scheme, std::uint16_t port, const std::string& host) {
  const std::uint16_t dflt = scheme == "https" ? 443 : 80;
  if (port == dflt || port == 0) return fmt::format("{}://{}", scheme, host);
  return fmt::format("{}://{}:{}", scheme, host, port);
}

// What the https listener does for this bind (docs/tls.md).
Result<EdgeSettings> edge_settings(const BindContext& ctx, const proto::Bind& b) {
  EdgeSettings e;
  e.passthrough = b.proto == "tls" || b.terminate_at == "agent";
  e.redirect_https = b.redirect_https;
  e.hsts = b.hsts;
  e.mtls_ca_pem = b.mtls_ca;
  if (ctx.https_port == 0 && (e.passthrough || e.redirect_https || !e.mtls_ca_pem.empty())) {
    return make_error("this relay serves no HTTPS (its --https listener is off)");
  }
  if (b.terminate_at == "agent" && (!e.mtls_ca_pem.empty() || !e.hsts.empty())) {
    return make_error("--mtls-ca and HSTS are the terminating side's: with --terminate-at agent the agent does TLS");
  }
  return e;
}

}  // namespace

Result<Bound> bind_http(BindContext& ctx, const BindRequest& req) {
  if (ctx.http_port == 0 && ctx.https_port == 0) {
    return make_error("this relay serves no HTTP (its --http and --https listeners are off)");
  }
  return bind_named(ctx, req, "http");
}

Result<Bound> bind_named(BindContext& ctx, const BindRequest& req, std::string_view kind) {
  auto edge = edge_settings(ctx, req.bind);
  if (!edge) return edge.error();
  bool random = false;
  auto host = choose_host(ctx, req, random);
  if (!host) return host.error();
  if (auto r = ctx.store.claim_hostname(*host, req.token.name, req.bind.tunnel, random); !r) {
    return Error{r.error().message, Errc::conflict};
  }
  const std::string_view other = kind == "http" ? "tls" : "http";
  if (ctx.registry.find(other, *host)) {
    return make_error(Errc::conflict, "host name {} is already a {} endpoint", *host, other);
  }
  if (auto ep = ctx.registry.find(kind, *host)) {
    if (ep->token() != req.token.name) return make_error(Errc::conflict, "host name {} is held by another token", *host);
    ep->set_edge(std::move(*edge));
    return Bound{ep, attach_member(*ep, req)};
  }
  // Plain http when the relay has an http listener and the host is not TLS-only.
  const bool https_url = kind == "tls" || edge->passthrough || ctx.http_port == 0;
  auto url = https_url ? url_for("https", ctx.https_port, *host) : url_for("http", ctx.http_port, *host);
  auto ep = std::make_shared<HostEndpoint>(std::string(kind), *host, req.token.name, std::move(url));
  ep->set_edge(std::move(*edge));
  auto displaced = attach_member(*ep, req);
  ctx.registry.add(ep, true);
  return Bound{ep, std::move(displaced)};
}

}  // namespace porthole::relay
