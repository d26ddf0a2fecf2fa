// porthole tcp|http TARGET: expose a local service through the relay. One function per kind
// adds its own flags; the agent flags and the run are shared.
#include <fstream>
#include <iostream>
#include <sstream>
#include <memory>

#include "app/agent_options.hpp"
#include "app/commands.hpp"
#include "core/hostname.hpp"
#include "config/policy_file.hpp"
#include "policy/codec.hpp"

namespace porthole::app {

namespace {

struct ExposeOptions {
  AgentFlags agent;
  std::string target;
  int remote_port = 0;
  std::string pool;  // "" = off; --pool alone means round-robin
  std::string subdomain, hostname, host_header = "preserve", upstream = "http";
  bool upstream_insecure = false;
  std::string health_check;
  int upstream_proxy_protocol = 0;
  std::string private_name;  // tcp --private NAME
  std::string policy_file;  // --policy
  policy::Sugar sugar;      // --allow-cidr, --deny-cidr, --basic-auth, --rate-limit, --jwt-*, --oidc*
  std::string jwks_file;    // --jwks-file
  bool allow_public = false;
  // the https listener (docs/tls.md)
  std::string terminate_at = "relay", tls_cert, tls_key, mtls_ca;
  bool redirect_https = false;
  int hsts = -1;  // -1: off; --hsts alone: one year
};

// --policy FILE and the short flags, compiled into the canonical document sent in Bind.
Result<std::string> policy_document(ExposeOptions o, const std::string& kind) {
  o.sugar.http = kind == "http";
  const auto& s = o.sugar;
  if (o.policy_file.empty() && s.empty() && o.jwks_file.empty()) return std::string();
  if (!o.jwks_file.empty()) {  // --jwks-file: read here, its keys travel in the Bind (public keys only)
    std::ifstream in(o.jwks_file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return make_error("--jwks-file {}: cannot read it", o.jwks_file);
    o.sugar.jwks = text.str();
  }
  auto p = o.policy_file.empty() ? config::parse_policy("", "flags", &o.sugar) : config::load_policy(o.policy_file, &o.sugar);
  if (!p) return p.error();
  return (*p)->canonical;
}

Result<void> check_http(const ExposeOptions& o) {
  if (!o.subdomain.empty() && !o.hostname.empty()) return make_error("--subdomain and --hostname: give one of them");
  if (o.upstream != "http" && o.upstream != "https") return make_error("--upstream: 'http' or 'https'");
  if (o.host_header.empty()) return make_error("--host-header: 'rewrite', 'preserve' or a host name");
  if (o.terminate_at == "agent" && (o.tls_cert.empty() || o.tls_key.empty())) {
    return make_error("--terminate-at agent needs --cert FILE and --key FILE");
  }
  if (o.terminate_at != "agent" && (!o.tls_cert.empty() || !o.tls_key.empty())) {
    return make_error("--cert/--key are for --terminate-at agent (the relay holds its own certificates)");
  }
  return {};
}

int run_expose(const ExposeOptions& o, const std::string& kind) {
  auto cfg = resolve_agent_config(o.agent);
  if (!cfg) {
    std::cerr << "porthole: " << cfg.error().message << "\n";
    return 2;
  }
  auto local = parse_local_address(o.target, "127.0.0.1");  // PORT, HOST:PORT or unix:/path
  if (!local) {
    std::cerr << "porthole " << kind << ": " << local.error().message << "\n";
    return 2;
  }
  if (kind == "udp" && is_unix_address(*local)) {
    std::cerr << "porthole udp: a unix socket is a stream, not a UDP service (give PORT or HOST:PORT)\n";
    return 2;
  }
  if (kind == "http") {
    if (auto r = check_http(o); !r) {
      std::cerr << "porthole http: " << r.error().message << "\n";
      return 2;
    }
  }
  auto doc = policy_document(o, kind);
  if (!doc) {
    std::cerr << "porthole " << kind << ": " << doc.error().message << "\n";
    return 2;
  }
  config::TunnelConfig t;
  t.policy = *doc;
  t.allow_public = o.allow_public;
  // --name names the agent and its one tunnel: the relay keeps the tunnel's address for it.
  t.name = !o.agent.name.empty()     ? o.agent.name
           : is_unix_address(*local) ? kind + "-unix"
                                     : kind + "-" + std::to_string(local->port);
  t.proto = kind;
  t.local = *local;
  if (o.remote_port > 0) t.remote_port = static_cast<std::uint16_t>(o.remote_port);
  t.pool = o.pool;
  t.subdomain = o.subdomain;
  t.hostname = o.hostname;
  t.host_header = o.host_header;
  t.upstream = o.upstream;
  t.upstream_insecure = o.upstream_insecure;
  t.health_check = o.health_check;
  t.upstream_proxy_protocol = o.upstream_proxy_protocol;
  if (!o.private_name.empty()) {
    auto name = normalize_private_name(o.private_name);
    if (!name) {
      std::cerr << "porthole tcp: --private " << o.private_name << ": " << name.error().message << "\n";
      return 2;
    }
    if (o.remote_port > 0) {
      std::cerr << "porthole tcp: --private and --remote-port: a private endpoint has no public port\n";
      return 2;
    }
    t.private_name = *name;
    if (o.agent.name.empty()) t.name = "private-" + *name;
  }
  t.terminate_at = o.terminate_at;
  t.tls_cert = o.tls_cert;
  t.tls_key = o.tls_key;
  t.redirect_https = o.redirect_https;
  if (o.hsts >= 0) t.hsts_max_age = static_cast<std::uint32_t>(o.hsts == 0 ? 31536000 : o.hsts);
  t.mtls_ca = o.mtls_ca;
  if (kind == "udp" && o.upstream_proxy_protocol == 1) {
    std::cerr << "porthole udp: PROXY protocol v1 has no UDP form: use --upstream-proxy-protocol 2\n";
    return 2;
  }
  if (kind == "tls" && o.hostname.empty() && o.subdomain.empty()) {
    std::cerr << "porthole tls: --hostname H (or --subdomain S) is required: visitors are routed by SNI\n";
    return 2;
  }
  cfg->tunnels.clear();  // the command line says what to expose
  cfg->tunnels.push_back(t);
  return run_agent(std::move(*cfg), o.agent);
}

CLI::App* add_kind(CLI::App& app, Run& run, const std::string& kind, const std::string& help,
                   const std::shared_ptr<ExposeOptions>& o) {
  auto* sub = app.add_subcommand(kind, help);
  sub->add_option("target", o->target, "PORT, HOST:PORT or unix:/PATH (a unix socket) of the local service")->required();
  sub->add_option("--pool", o->pool, "Share the endpoint with other agents of this token (round-robin|least-conn)")
      ->expected(0, 1)
      ->default_str("round-robin")
      ->check(CLI::IsMember({"round-robin", "least-conn"}));
  sub->add_option("--upstream-proxy-protocol", o->upstream_proxy_protocol,
                  "Write a PROXY protocol header (version 1 or 2) with the visitor's address first on each local "
                  "connection")
      ->check(CLI::IsMember({1, 2}));
  add_agent_flags(*sub, o->agent);
  sub->add_option("--allow-cidr", o->sugar.allow_cidr, "Only visitors from this CIDR (repeatable; IPv4 and IPv6)");
  sub->add_option("--deny-cidr", o->sugar.deny_cidr, "Refuse visitors from this CIDR (repeatable)");
  sub->add_option("--rate-limit", o->sugar.rate_limit, "At most N requests (http) or connections (tcp) per client IP: N/s, N/m");
  sub->add_option("--policy", o->policy_file, "Traffic policy file (TOML; docs/policy.md)");
  sub->callback([o, &run, kind, sub] {
    if (sub->count("--pool") > 0 && o->pool.empty()) o->pool = "round-robin";
    if (sub->get_option_no_throw("--hsts") != nullptr && sub->count("--hsts") > 0 && o->hsts < 0) o->hsts = 0;
    run = [o, kind] { return run_expose(*o, kind); };
  });
  return sub;
}

}  // namespace

void add_expose(CLI::App& app, Run& run) {
  auto tcp = std::make_shared<ExposeOptions>();
  auto* t = add_kind(app, run, "tcp", "Expose a local TCP service on a public port of the relay (like ssh -R)", tcp);
  t->add_option("--remote-port", tcp->remote_port, "Ask for this public port")->check(CLI::Range(1, 65535));
  t->add_option("--health-check", tcp->health_check, "Check the local service: connect (pools skip it while it fails)")
      ->check(CLI::IsMember({"connect"}));
  t->add_option("--private", tcp->private_name,
                "Register a private endpoint NAME instead of a public port (reach it with `porthole connect NAME`)");

  auto udp = std::make_shared<ExposeOptions>();
  auto* u = add_kind(app, run, "udp", "Expose a local UDP service on a public UDP port of the relay (datagrams end to end)", udp);
  u->add_option("--remote-port", udp->remote_port, "Ask for this public UDP port")->check(CLI::Range(1, 65535));

  auto http = std::make_shared<ExposeOptions>();
  auto* h = add_kind(app, run, "http", "Expose a local web app under a host name of the relay (like ngrok http)", http);
  h->add_option("--basic-auth", http->sugar.basic_auth,
                "Require this USER:PASSWORD (repeatable; hashed before it leaves; USER:$scrypt$... taken as is)");
  t->add_flag("--allow-public", tcp->allow_public, "Expose a sensitive port (database, RDP, ...) to everyone anyway");
  h->add_option("--verify-webhook", http->sugar.webhook,
                "Verify signatures: stripe, github, slack, twilio, shopify, standard (svix) (401 otherwise)");
  h->add_option("--verify-webhook-secret", http->sugar.webhook_secret, "The webhook signing secret");
  h->add_option("--jwt-issuer", http->sugar.jwt_issuer, "Require a JWT (Authorization: Bearer) from this issuer (iss)");
  h->add_option("--jwt-audience", http->sugar.jwt_audience, "... for this audience (aud)");
  h->add_option("--jwks-url", http->sugar.jwks_url, "... signed by a key of this https JWKS (fetched by the relay)");
  h->add_option("--jwks-file", http->jwks_file, "... signed by a key of this JWKS file (sent with the tunnel)")
      ->check(CLI::ExistingFile);
  h->add_option("--jwt-secret", http->sugar.jwt_secret, "... signed HS256 with this secret (32+ bytes)");
  h->add_option("--oidc", http->sugar.oidc_issuer,
                "Require a browser login with this OpenID Connect issuer (https URL; the relay runs the login)");
  h->add_option("--oidc-client-id", http->sugar.oidc_client_id, "The OIDC client id registered at the issuer");
  h->add_option("--oidc-client-secret", http->sugar.oidc_client_secret, "The OIDC client secret");
  h->add_option("--oidc-allow-domain", http->sugar.oidc_allow_domain,
                "Let only verified e-mail addresses of this domain in (repeatable)");
  h->add_option("--oidc-allow-user", http->sugar.oidc_allow_user, "Let this e-mail address or subject in (repeatable)");
  h->add_option("--subdomain", http->subdomain, "Ask for SUBDOMAIN.DOMAIN of the relay");
  h->add_option("--hostname", http->hostname, "Ask for this host name (a custom domain; *.example.com works)");
  h->add_option("--host-header", http->host_header,
                "Host header towards the local service: preserve (default), rewrite (to its address), or a value");
  h->add_option("--upstream", http->upstream, "The local service speaks http (default) or https");
  h->add_flag("--upstream-insecure", http->upstream_insecure, "Do not verify the local service's certificate");
  h->add_option("--health-check", http->health_check,
                "GET this path on the local service every 5 s (2xx/3xx = healthy; pools skip it while it fails)")
      ->check([](const std::string& s) { return !s.empty() && s.front() == '/' ? std::string() : "must start with /"; });
  h->add_option("--terminate-at", http->terminate_at,
                "Where TLS of the https port ends: relay (default; the relay's certificate) or agent (--cert/--key here)")
      ->check(CLI::IsMember({"relay", "agent"}));
  h->add_option("--cert", http->tls_cert, "--terminate-at agent: the certificate chain (PEM); it stays on this machine")
      ->check(CLI::ExistingFile);
  h->add_option("--key", http->tls_key, "--terminate-at agent: its private key (PEM); it never leaves this machine")
      ->check(CLI::ExistingFile);
  h->add_flag("--redirect-https", http->redirect_https, "The relay's http port answers 308 to the https URL");
  h->add_option("--hsts", http->hsts, "Send Strict-Transport-Security on https responses (max-age SECONDS, default one year)")
      ->expected(0, 1)
      ->default_str("0");
  h->add_option("--mtls-ca", http->mtls_ca,
                "Visitors must present a client certificate from this CA (PEM); the subject reaches the service in "
                "X-Client-Cert-Subject")
      ->check(CLI::ExistingFile);

  auto tls = std::make_shared<ExposeOptions>();
  auto* s = add_kind(app, run, "tls", "Expose a local TLS service by SNI on the relay's https port (passthrough: never decrypted)", tls);
  s->add_option("--hostname", tls->hostname, "The host name (SNI) visitors ask for; *.example.com works");
  s->add_option("--subdomain", tls->subdomain, "Or SUBDOMAIN.DOMAIN of the relay");
}

}  // namespace porthole::app
