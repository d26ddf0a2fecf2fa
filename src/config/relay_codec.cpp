// relay.toml: `version = 1` and a [relay] table (docs/config.md).
#include "config/config.hpp"
#include "config/toml_codec.hpp"
#include "policy/codec.hpp"
#include "policy/fetch_check.hpp"

namespace porthole::config {

namespace detail {

namespace {

using std::chrono::seconds;

StringCheck listen_on(std::string_view default_host) {
  return [default_host](std::string_view s) { return check_listen(s, default_host); };
}

void read_limits(TableReader& t, RelayConfig& c) {
  std::int64_t v = 0;
  bool total = t.integer("max_pending_handshakes", v, 1, 1'000'000);
  if (total) c.max_pending_handshakes = static_cast<std::uint32_t>(v);
  bool per_ip = t.integer("max_pending_per_ip", v, 1, 1'000'000);
  if (per_ip) c.max_pending_per_ip = static_cast<std::uint32_t>(v);
  if ((total || per_ip) && c.max_pending_per_ip > c.max_pending_handshakes) {
    t.problem(per_ip ? "max_pending_per_ip" : "max_pending_handshakes",
              fmt::format("max_pending_per_ip ({}) exceeds max_pending_handshakes ({})", c.max_pending_per_ip,
                          c.max_pending_handshakes));
  }
}

// The HTTP listener's deadlines and caps (docs/http.md), and the proxies it trusts.
void read_http(TableReader& t, RelayConfig& c) {
  t.string_array("trusted_proxies", c.trusted_proxies, [](std::string_view s) -> Result<std::string> {
    if (s.empty() || s.find_first_not_of("0123456789abcdefABCDEF.:/") != std::string_view::npos) {
      return make_error("'{}' is not a CIDR", s);
    }
    return std::string(s);
  });
  t.seconds("http_head_timeout", c.http_head_timeout, seconds(1), seconds(3600));
  t.seconds("http_idle_timeout", c.http_idle_timeout, seconds(1), seconds(86400));
  t.seconds("http_body_timeout", c.http_body_timeout, seconds(1), seconds(86400));
  t.seconds("upstream_timeout", c.upstream_timeout, seconds(1), seconds(86400));
  std::int64_t v = 0;
  if (t.integer("max_http_conns_per_ip", v, 1, 1'000'000)) c.max_http_conns_per_ip = static_cast<std::uint32_t>(v);
}

// PROXY protocol on the public listeners (docs/proxy-protocol.md).
void read_proxy_protocol(TableReader& t, RelayConfig& c) {
  t.string_array("accept_proxy_protocol_from", c.accept_proxy_protocol_from, [](std::string_view s) -> Result<std::string> {
    if (s.empty() || s.find_first_not_of("0123456789abcdefABCDEF.:/") != std::string_view::npos) {
      return make_error("'{}' is not a CIDR", s);
    }
    return std::string(s);
  });
  t.seconds("proxy_header_timeout", c.proxy_header_timeout, seconds(1), seconds(300));
}

// The https listener's deadline and cap (docs/tls.md).
void read_https(TableReader& t, RelayConfig& c) {
  t.seconds("tls_handshake_timeout", c.tls_handshake_timeout, seconds(1), seconds(300));
  std::int64_t v = 0;
  if (t.integer("max_tls_handshakes", v, 1, 1'000'000)) c.max_tls_handshakes = static_cast<std::uint32_t>(v);
}

// [[certificate]] blocks: host (optional: the certificate's own names), cert, key.
void read_certificates(TableReader& r, RelayConfig& c) {
  const toml::node* n = r.take("certificate");
  if (n == nullptr) return;
  const auto* arr = n->as_array();
  if (arr == nullptr || !arr->is_array_of_tables()) {
    r.problem("certificate", fmt::format("expected [[certificate]] blocks, got {}", type_name(*n)));
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    TableReader t(*arr->get(i)->as_table(), fmt::format("certificate[{}]", i), r.problems());
    CertificateConfig cc;
    t.string("host", cc.host, [](std::string_view s) -> Result<std::string> {
      const auto rest = s.starts_with("*.") ? s.substr(2) : s;
      if (rest.empty() || rest.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
                              std::string_view::npos || rest.front() == '.' || rest.find("..") != std::string_view::npos) {
        return make_error("'{}' is not a host name or *.wildcard", s);
      }
      return std::string(s);
    });
    auto path = check_path(t.problems().base_dir());
    if (!t.string("cert", cc.cert_file, path) && !t.table().contains("cert")) t.problem("cert", "missing (a PEM certificate chain)");
    if (!t.string("key", cc.key_file, path) && !t.table().contains("key")) t.problem("key", "missing (its PEM private key)");
    t.finish();
    c.certificates.push_back(std::move(cc));
  }
}

// ACME (docs/acme.md).
void read_acme(TableReader& t, RelayConfig& c) {
  t.string("acme_directory", c.acme_directory, [](std::string_view s) -> Result<std::string> {
    if (s == "off" || s.starts_with("https://")) return std::string(s);
    return make_error("expected an https:// directory URL or \"off\"");
  });
  t.string("acme_email", c.acme_email, [](std::string_view s) -> Result<std::string> {
    if (s.find('@') == std::string_view::npos || s.find_first_of(" \t\r\n,") != std::string_view::npos) {
      return make_error("'{}' is not an e-mail address", s);
    }
    return std::string(s);
  });
  t.string("acme_ca", c.acme_ca, check_path(t.problems().base_dir()));
  t.string("jwks_ca", c.jwks_ca, check_path(t.problems().base_dir()));
  t.string_array("policy_fetch_allow", c.policy_fetch_allow, [](std::string_view s) -> Result<std::string> {
    const std::string v(s);
    if (auto r = policy::FetchAllow::parse(std::span<const std::string>(&v, 1)); !r) return r.error();
    return v;
  });
  t.string("acme_challenge", c.acme_challenge, [](std::string_view s) -> Result<std::string> {
    if (s == "http-01" || s == "tls-alpn-01") return std::string(s);
    return make_error("expected \"http-01\" or \"tls-alpn-01\"");
  });
}

// [exit]: the relay as the exit of `porthole socks --via relay` (docs/socks.md).
void read_exit_table(TableReader& t, RelayConfig& c) {
  t.string_array("allow_dest", c.exit_allow_dest, check_allow_dest);
  t.string("hosts_file", c.exit_hosts_file, check_path(t.problems().base_dir()));
  t.finish();
}

void read_relay_table(TableReader& t, RelayConfig& c) {
  t.string("agents", c.agents, listen_on("0.0.0.0"));
  t.string("http", c.http, [](std::string_view s) -> Result<std::string> {
    if (s == "off") return std::string(s);
    return check_listen(s, "0.0.0.0");
  });
  t.string("https", c.https, [](std::string_view s) -> Result<std::string> {
    if (s == "off") return std::string(s);
    return check_listen(s, "0.0.0.0");
  });
  t.string("admin", c.admin, listen_on("127.0.0.1"));
  t.string("domain", c.domain, check_domain);
  t.port_range("tcp_ports", c.tcp_ports);
  t.port_range("udp_ports", c.udp_ports);
  t.seconds("udp_flow_timeout", c.udp_flow_timeout, std::chrono::seconds(1), std::chrono::seconds(86400));
  if (std::int64_t v = 0; t.integer("udp_max_flows", v, 1, 1'000'000)) c.udp_max_flows = static_cast<std::uint32_t>(v);
  auto path = check_path(t.problems().base_dir());
  t.string("data_dir", c.data_dir, path);
  t.string("cert", c.cert_file, path);
  t.string("key", c.key_file, path);
  bool has_cert = t.table().contains("cert");
  if (has_cert != t.table().contains("key")) {
    t.problem(has_cert ? "cert" : "key", "cert and key must be given together");
  }
  t.string_array("tokens", c.tokens, check_secret);
  read_heartbeat(t, c.heartbeat);
  t.seconds("handshake_timeout", c.handshake_timeout, seconds(1), seconds(300));
  read_limits(t, c);
  t.seconds("shutdown_grace", c.shutdown_grace, seconds(0), seconds(3600));
  read_http(t, c);
  read_proxy_protocol(t, c);
  read_https(t, c);
  read_acme(t, c);
  t.finish();
}

}  // namespace

void read_relay_root(const toml::table& root, Problems& problems, RelayConfig& c) {
  TableReader r(root, "", problems);
  if (!check_version(r)) return;
  for (std::string_view other : {"agent", "tunnel"}) {
    if (r.take(other) != nullptr) {
      r.problem(other, "belongs in an agent config (porthole.toml), not a relay config");
    }
  }
  if (const toml::node* n = r.take("relay")) {
    if (const auto* tbl = n->as_table()) {
      TableReader t(*tbl, "relay", problems);
      read_relay_table(t, c);
    } else {
      r.problem("relay", fmt::format("expected a table ([relay]), got {}", type_name(*n)));
    }
  }
  // Operator rules: [[policy.on_tcp_connect]], [[policy.on_http_request]] (docs/policy.md).
  if (const toml::node* n = r.take("policy")) {
    if (const auto* tbl = n->as_table()) {
      std::vector<policy::Problem> found;
      auto p = policy::read_policy(*tbl, "policy", found);
      for (const auto& f : found) problems.add(f.line == 0 ? line_of(*n) : f.line, f.key, f.text);
      if (found.empty()) c.policy = p->canonical;
    } else {
      r.problem("policy", fmt::format("expected a table ([policy]), got {}", type_name(*n)));
    }
  }
  if (const toml::node* n = r.take("exit")) {
    if (const auto* tbl = n->as_table()) {
      TableReader t(*tbl, "exit", problems);
      read_exit_table(t, c);
    } else {
      r.problem("exit", fmt::format("expected a table ([exit]), got {}", type_name(*n)));
    }
  }
  read_certificates(r, c);
  r.finish();
}

}  // namespace detail

}  // namespace porthole::config
