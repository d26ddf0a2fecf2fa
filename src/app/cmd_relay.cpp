// porthole relay: the public meeting point for agents and visitors.
#include <iostream>
#include <memory>

#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "app/relay_runner.hpp"
#include "config/config.hpp"
#include "policy/cidr.hpp"
#include "policy/fetch_check.hpp"
#include "net/tls_server.hpp"

namespace porthole::app {

namespace {

struct RelayFlags {
  std::string config_file, agents, http, https, domain, tcp_ports, udp_ports, admin, data;
  std::vector<std::string> certs, keys;  // --cert/--key pairs, in order
  std::vector<std::string> tokens, trusted_proxies, accept_proxy_protocol_from;
  std::string upstream_timeout;
  std::string acme_directory, acme_email, acme_ca;
  std::string jwks_ca;
  std::vector<std::string> policy_fetch_allow;
};

Result<config::RelayConfig> resolve(const RelayFlags& f) {
  config::RelayConfig cfg;
  if (!f.config_file.empty()) {
    auto loaded = config::load_relay_config(f.config_file);
    if (!loaded) return loaded.error();
    cfg = std::move(*loaded);
  }
  auto set = [](const std::string& v, std::string& into) {
    if (!v.empty()) into = v;
  };
  set(f.agents, cfg.agents);
  set(f.http, cfg.http);
  set(f.https, cfg.https);
  set(f.domain, cfg.domain);
  set(f.admin, cfg.admin);
  set(f.data, cfg.data_dir);
  // --cert/--key pairs: the first is also the agent listener's certificate; each one serves its
  // names on the https listener (like a [[certificate]] block without host).
  if (f.certs.size() != f.keys.size()) {
    return make_error("--cert and --key go together: {} --cert, {} --key", f.certs.size(), f.keys.size());
  }
  for (std::size_t i = 0; i < f.certs.size(); ++i) {
    if (i == 0) {
      cfg.cert_file = f.certs[0];
      cfg.key_file = f.keys[0];
      continue;
    }
    config::CertificateConfig c;
    c.cert_file = f.certs[i];
    c.key_file = f.keys[i];
    cfg.certificates.push_back(std::move(c));
  }
  set(f.acme_directory, cfg.acme_directory);
  set(f.acme_email, cfg.acme_email);
  set(f.acme_ca, cfg.acme_ca);
  set(f.jwks_ca, cfg.jwks_ca);
  cfg.policy_fetch_allow.insert(cfg.policy_fetch_allow.end(), f.policy_fetch_allow.begin(), f.policy_fetch_allow.end());
  if (auto r = policy::FetchAllow::parse(cfg.policy_fetch_allow); !r) return make_error("--policy-fetch-allow: {}", r.error().message);
  if (!cfg.acme_directory.empty() && cfg.acme_directory != "off" && !cfg.acme_directory.starts_with("https://")) {
    return make_error("--acme-directory: an https:// URL or off");
  }
  if (cfg.cert_file.empty() != cfg.key_file.empty()) return make_error("--cert and --key go together");
  for (auto [text, into, flag] : {std::tuple{&f.tcp_ports, &cfg.tcp_ports, "--tcp-ports"},
                                  std::tuple{&f.udp_ports, &cfg.udp_ports, "--udp-ports"}}) {
    if (text->empty()) continue;
    auto r = parse_port_range(*text);
    if (!r) return make_error("{}: {}", flag, r.error().message);
    *into = *r;
  }
  for (const auto& [flag, addr] : {std::pair{"--agents", &cfg.agents}, std::pair{"--admin", &cfg.admin}}) {
    if (auto r = parse_host_port(*addr, "0.0.0.0", true); !r) return make_error("{}: {}", flag, r.error().message);
  }
  cfg.tokens.insert(cfg.tokens.end(), f.tokens.begin(), f.tokens.end());
  cfg.trusted_proxies.insert(cfg.trusted_proxies.end(), f.trusted_proxies.begin(), f.trusted_proxies.end());
  cfg.accept_proxy_protocol_from.insert(cfg.accept_proxy_protocol_from.end(), f.accept_proxy_protocol_from.begin(),
                                        f.accept_proxy_protocol_from.end());
  for (const auto& c : cfg.accept_proxy_protocol_from) {
    policy::CidrSet check;
    if (auto r = check.add(c); !r) return make_error("--accept-proxy-protocol-from: {}", r.error().message);
  }
  if (!f.upstream_timeout.empty()) {
    auto d = config::parse_duration(f.upstream_timeout);
    if (!d || *d < std::chrono::seconds(1)) return make_error("--upstream-timeout: a duration of at least 1s, e.g. 30s");
    cfg.upstream_timeout = std::chrono::duration_cast<config::Seconds>(*d);
  }
  if (cfg.http != "off") {
    if (auto r = parse_host_port(cfg.http, "0.0.0.0", true); !r) return make_error("--http: {}", r.error().message);
  }
  if (cfg.https != "off") {
    if (auto r = parse_host_port(cfg.https, "0.0.0.0", true); !r) return make_error("--https: {}", r.error().message);
  }
  return cfg;
}

}  // namespace

void add_relay(CLI::App& app, Run& run) {
  auto f = std::make_shared<RelayFlags>();
  auto* sub = app.add_subcommand("relay", "Run the relay: the public meeting point for agents and visitors");
  sub->add_option("--config", f->config_file, "relay.toml");
  sub->add_option("--agents", f->agents, "TLS listener for agents (default 0.0.0.0:7000)");
  sub->add_option("--http", f->http, "HTTP listener for visitors (default 0.0.0.0:8080, or off)");
  sub->add_option("--https", f->https, "HTTPS listener for visitors (default 0.0.0.0:8443, or off)");
  sub->add_option("--domain", f->domain, "Domain of public endpoints (default localhost)");
  sub->add_option("--tcp-ports", f->tcp_ports, "Public TCP port range LO-HI (default 20000-29999)");
  sub->add_option("--udp-ports", f->udp_ports, "Public UDP port range LO-HI (default 20000-29999)");
  sub->add_option("--admin", f->admin, "Admin API address (default 127.0.0.1:7001)");
  sub->add_option("--data", f->data, "State directory: certificate, SQLite (default ./porthole-data)");
  sub->add_option("--cert", f->certs,
                  "TLS certificate chain (PEM); repeatable, each with its --key: the first one is also the agent "
                  "listener's, every one serves its names on the https listener");
  sub->add_option("--key", f->keys, "The private key (PEM) of the --cert at the same position (repeatable)");
  sub->add_option("--token", f->tokens, "Accept agents presenting this token (repeatable)");
  sub->add_option("--trusted-proxy", f->trusted_proxies,
                  "Keep X-Forwarded-*/Forwarded from visitors in this CIDR (repeatable; default: replace them)");
  sub->add_option("--accept-proxy-protocol-from", f->accept_proxy_protocol_from,
                  "Require a PROXY protocol v1/v2 header from peers in this CIDR (front load balancers; repeatable);"
                  " a header from anyone else closes the connection");
  sub->add_option("--upstream-timeout", f->upstream_timeout,
                  "How long a local service may take to start its response (default 60s; then 504)");
  sub->add_option("--acme-directory", f->acme_directory,
                  "ACME directory URL, or off (default: Let's Encrypt when --domain is a public name)");
  sub->add_option("--acme-email", f->acme_email, "Contact e-mail for the ACME account");
  sub->add_option("--acme-ca", f->acme_ca, "CA bundle to verify the ACME server with (default: system trust)");
  sub->add_option("--jwks-ca", f->jwks_ca,
                  "CA bundle to verify the servers of policies' jwks_url and oidc issuers with (default: system trust)");
  sub->add_option("--policy-fetch-allow", f->policy_fetch_allow,
                  "Let policy fetches (JWKS, OIDC) reach this private/loopback CIDR (repeatable; default: public addresses only)");
  // porthole relay ca [--data DIR]: the local CA (made when missing) that signs the https
  // certificates of names under --domain, for `curl --cacert` and browsers.
  auto ca_data = std::make_shared<std::string>(config::RelayConfig{}.data_dir);
  auto* ca = sub->add_subcommand("ca", "Print the relay's local CA certificate (PEM) for curl --cacert / browsers");
  ca->add_option("--data", *ca_data, "State directory (default ./porthole-data)");
  ca->callback([ca_data, &run] {
    run = [ca_data] {
      auto c = net::LocalCa::ensure(*ca_data);
      if (!c) {
        std::cerr << "porthole relay ca: " << c.error().message << "\n";
        return 1;
      }
      std::cout << (*c)->cert_pem();
      std::cerr << "SHA256:" << (*c)->fingerprint() << " (" << (*c)->cert_file() << ")\n";
      return 0;
    };
  });
  sub->callback([f, &run, ca] {
    if (ca->parsed()) return;
    run = [f] {
      auto cfg = resolve(*f);
      if (!cfg) {
        std::cerr << "porthole relay: " << cfg.error().message << "\n";
        return 2;
      }
      return run_relay(std::move(*cfg));
    };
  });
}

}  // namespace porthole::app
