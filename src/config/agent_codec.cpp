// porthole.toml (agent): `version = 1`, an optional [agent] table and [[tunnel]] blocks.
#include <cctype>
#include <cstdlib>

#include "config/config.hpp"
#include "config/toml_codec.hpp"
#include "core/hostname.hpp"
#include "policy/codec.hpp"

namespace porthole::config {

namespace detail {

namespace {

using std::chrono::seconds;

Result<std::string> check_pool(std::string_view s) {
  if (s == "round-robin" || s == "least-conn") return std::string(s);
  return make_error("must be \"round-robin\" or \"least-conn\"");
}

Result<std::string> check_one_of(std::string_view s, std::initializer_list<std::string_view> allowed) {
  for (auto a : allowed) {
    if (s == a) return std::string(s);
  }
  std::string list;
  for (auto a : allowed) list += fmt::format("{}\"{}\"", list.empty() ? "" : " or ", a);
  return make_error("must be {}", list);
}

void read_pool(TableReader& t, TunnelConfig& tc) {
  bool on = false;
  if (t.table().contains("pool") && t.table().get("pool")->is_boolean()) {
    if (t.boolean("pool", on) && on) tc.pool = "round-robin";
    return;
  }
  t.string("pool", tc.pool, check_pool);
}

// upstream_proxy_protocol = 1 | 2 (tcp, http, tls; udp: 2 only, v1 has no datagram form): a
// PROXY header of that version first on every local connection, or on every datagram
// (docs/proxy-protocol.md).
void read_upstream_proxy_protocol(TableReader& t, TunnelConfig& tc) {
  std::int64_t v = 0;
  if (!t.integer("upstream_proxy_protocol", v, 1, 2)) return;
  if (tc.proto == "udp" && v == 1) {
    t.problem("upstream_proxy_protocol", "PROXY protocol v1 has no UDP form: use 2 for a udp tunnel");
    return;
  }
  tc.upstream_proxy_protocol = static_cast<int>(v);
}

void read_tcp(TableReader& t, TunnelConfig& tc) {
  std::int64_t v = 0;
  if (t.integer("remote_port", v, 1, 65535)) tc.remote_port = static_cast<std::uint16_t>(v);
  read_pool(t, tc);
  t.string("health_check", tc.health_check, [](std::string_view s) { return check_one_of(s, {"connect"}); });
  t.string("private", tc.private_name, [](std::string_view s) { return normalize_private_name(s); });
  if (t.table().contains("private") && t.table().contains("remote_port")) {
    t.problem("private", "a private endpoint has no public port: give private or remote_port, not both");
  }
  read_upstream_proxy_protocol(t, tc);
}

// `kind = "udp"`: a public UDP port of the relay (--udp-ports); flows to the local service.
void read_udp(TableReader& t, TunnelConfig& tc) {
  std::int64_t v = 0;
  if (t.integer("remote_port", v, 1, 65535)) tc.remote_port = static_cast<std::uint16_t>(v);
  read_pool(t, tc);
  read_upstream_proxy_protocol(t, tc);
}

// `kind = "exit"`: `porthole exit` in a file. `private` (default: the tunnel's name) is the
// exit's private name; `allow_dest` (required, the --allow-dest entries) and `hosts_file`.
void read_exit(TableReader& t, TunnelConfig& tc) {
  if (t.take("local") != nullptr) t.problem("local", "an exit has no local service (its streams go to allow_dest)");
  if (!t.string("private", tc.private_name, [](std::string_view s) { return normalize_private_name(s); }) &&
      !t.table().contains("private")) {
    if (auto n = normalize_private_name(tc.name)) tc.private_name = *n;
  }
  const bool listed = t.string_array("allow_dest", tc.allow_dest, check_allow_dest);
  if (!t.table().contains("allow_dest")) {
    t.problem("allow_dest", "missing (where the exit's streams may go, e.g. [\"10.0.0.0/8:22,80,443\"])");
  } else if (listed && tc.allow_dest.empty()) {
    t.problem("allow_dest", "empty: this exit would refuse everything");
  }
  t.string("hosts_file", tc.hosts_file, check_path(t.problems().base_dir()));
}

void read_names(TableReader& t, TunnelConfig& tc) {
  t.string("subdomain", tc.subdomain);
  t.string("hostname", tc.hostname);
  if (t.table().contains("subdomain") && t.table().contains("hostname")) {
    t.problem("hostname", "give subdomain or hostname, not both");
  }
}

// TLS passthrough routed by SNI.
void read_tls(TableReader& t, TunnelConfig& tc) {
  read_names(t, tc);
  read_pool(t, tc);
  read_upstream_proxy_protocol(t, tc);
}

// The https listener's settings of an http tunnel (docs/tls.md).
void read_edge(TableReader& t, TunnelConfig& tc) {
  auto path = check_path(t.problems().base_dir());
  t.string("terminate_at", tc.terminate_at, [](std::string_view s) { return check_one_of(s, {"relay", "agent"}); });
  t.string("cert", tc.tls_cert, path);
  t.string("key", tc.tls_key, path);
  if (tc.terminate_at == "agent" && (tc.tls_cert.empty() || tc.tls_key.empty())) {
    t.problem("terminate_at", "terminate_at = \"agent\" needs cert and key");
  } else if (tc.terminate_at != "agent" && (t.table().contains("cert") || t.table().contains("key"))) {
    t.problem("cert", "cert and key are for terminate_at = \"agent\" (the relay holds its own certificates)");
  }
  t.boolean("redirect_https", tc.redirect_https);
  if (t.table().contains("hsts") && t.table().get("hsts")->is_boolean()) {
    bool on = false;
    if (t.boolean("hsts", on)) tc.hsts_max_age = on ? 31536000 : 0;
  } else {
    std::int64_t v = 0;
    if (t.integer("hsts", v, 0, 100'000'000)) tc.hsts_max_age = static_cast<std::uint32_t>(v);
  }
  t.string("mtls_ca", tc.mtls_ca, path);
}

void read_http(TableReader& t, TunnelConfig& tc) {
  read_edge(t, tc);
  t.string("subdomain", tc.subdomain);
  t.string("hostname", tc.hostname);
  if (t.table().contains("subdomain") && t.table().contains("hostname")) {
    t.problem("hostname", "give subdomain or hostname, not both");
  }
  t.string("host_header", tc.host_header);
  t.string("upstream", tc.upstream, [](std::string_view s) { return check_one_of(s, {"http", "https"}); });
  t.boolean("upstream_insecure", tc.upstream_insecure);
  read_upstream_proxy_protocol(t, tc);
  read_pool(t, tc);
  t.string("health_check", tc.health_check, [](std::string_view s) -> Result<std::string> {
    if (s.empty() || s.front() != '/' || s.find_first_of(" \t\r\n") != std::string_view::npos) {
      return make_error("must be a path starting with '/'");
    }
    return std::string(s);
  });
}

// `policy` (an inline table: the policy document) or `policy_file` (docs/policy.md).
void read_tunnel_policy(TableReader& t, TunnelConfig& tc) {
  if (const auto* n = t.take("policy")) {
    if (const auto* tbl = n->as_table()) {
      std::vector<policy::Problem> found;
      auto p = policy::read_policy(*tbl, t.key_path("policy"), found);
      for (const auto& f : found) t.problems().add(f.line == 0 ? t.line() : f.line, f.key, f.text);
      if (found.empty()) tc.policy = p->canonical;
    } else {
      t.problem("policy", fmt::format("expected a table ([tunnel.policy]), got {}", type_name(*n)));
    }
  }
  t.string("policy_file", tc.policy_file, check_path(t.problems().base_dir()));
  if (t.table().contains("policy") && t.table().contains("policy_file")) {
    t.problem("policy_file", "give policy or policy_file, not both");
  }
  if (tc.proto == "tcp") t.boolean("allow_public", tc.allow_public);
}

// Tunnel kinds: `proto = "..."` and the reader of that kind's own keys. Adding a kind (http,
// tls, udp) is one line here plus its reader.
using ReadKind = void (*)(TableReader&, TunnelConfig&);
struct TunnelKind {
  std::string_view proto;
  ReadKind read;
};
constexpr TunnelKind kTunnelKinds[] = {
    {"tcp", read_tcp},
    {"http", read_http},
    {"udp", read_udp},
    {"tls", read_tls},
    {"exit", read_exit},
};

const TunnelKind* find_kind(std::string_view proto) {
  for (const auto& k : kTunnelKinds) {
    if (k.proto == proto) return &k;
  }
  return nullptr;
}

std::string kind_names() {
  std::string out;
  for (const auto& k : kTunnelKinds) out += fmt::format("{}{}", out.empty() ? "" : ", ", k.proto);
  return out;
}

void read_tunnel(TableReader& t, TunnelConfig& tc) {
  tc.source_line = static_cast<int>(t.line());
  if (!t.string("name", tc.name, check_name) && !t.table().contains("name")) {
    t.problem("name", "missing (every [[tunnel]] needs a unique name)");
  }
  std::string proto = tc.proto;
  // `kind` is the spelling of the issues and SPEC; `proto` (the first one) keeps working.
  const char* key = t.table().contains("kind") ? "kind" : "proto";
  if (t.table().contains("kind") && t.table().contains("proto")) t.problem("proto", "give kind or proto, not both");
  t.string("kind", proto);
  t.string("proto", proto);
  const TunnelKind* kind = find_kind(proto);
  if (kind == nullptr) {
    t.problem(key, fmt::format("unknown {} '{}' (one of: {})", key, proto, kind_names()));
  } else {
    tc.proto = proto;
  }
  std::string local;
  auto check_local = [proto](std::string_view s) -> Result<std::string> {
    if (!s.starts_with(kUnixPrefix)) return check_dial(s, "127.0.0.1");
    if (proto == "udp") return make_error("a unix socket is a stream, not a UDP service");
    auto hp = parse_local_address(s, "127.0.0.1");
    if (!hp) return hp.error();
    return hp->host;
  };
  if (proto == "exit") {
    // no local service: read_exit refuses the key
  } else if (t.string_or_int("local", local, check_local)) {
    if (auto hp = parse_local_address(local, "127.0.0.1")) tc.local = *hp;
  } else if (!t.table().contains("local")) {
    t.problem("local", "missing (the local service: PORT, HOST:PORT or unix:/PATH)");
  }
  if (kind == nullptr) return;  // keys of an unknown kind cannot be judged
  kind->read(t, tc);
  read_tunnel_policy(t, tc);
  t.finish();
}

// Names are unique; so is a remote_port within one proto.
void check_unique(const std::vector<TunnelConfig>& tunnels, const std::vector<std::uint32_t>& name_lines,
                  const std::vector<std::uint32_t>& port_lines, Problems& problems) {
  for (std::size_t i = 0; i < tunnels.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const auto& a = tunnels[j];
      const auto& b = tunnels[i];
      if (!b.name.empty() && a.name == b.name) {
        problems.add(
            name_lines[i], fmt::format("tunnel[{}].name", i),
            fmt::format("duplicate tunnel name '{}' (first defined at line {})", b.name, name_lines[j]));
      }
      if (b.remote_port && a.remote_port == b.remote_port && a.proto == b.proto) {
        problems.add(port_lines[i], fmt::format("tunnel[{}].remote_port", i),
                     fmt::format("remote_port {} is already asked for by tunnel '{}' (line {})",
                                 *b.remote_port, a.name, port_lines[j]));
      }
    }
  }
}

void read_tunnels(TableReader& r, AgentConfig& c) {
  const toml::node* n = r.take("tunnel");
  if (n == nullptr) return;
  const auto* arr = n->as_array();
  if (arr != nullptr && arr->empty()) return;
  if (arr == nullptr || !arr->is_array_of_tables()) {
    r.problem("tunnel",
              fmt::format("expected [[tunnel]] blocks (an array of tables), got {}", type_name(*n)));
    return;
  }
  std::vector<std::uint32_t> name_lines, port_lines;
  for (std::size_t i = 0; i < arr->size(); ++i) {
    TableReader t(*arr->get(i)->as_table(), fmt::format("tunnel[{}]", i), r.problems());
    TunnelConfig tc;
    read_tunnel(t, tc);
    name_lines.push_back(t.line_of_key("name"));
    port_lines.push_back(t.line_of_key("remote_port"));
    c.tunnels.push_back(std::move(tc));
  }
  check_unique(c.tunnels, name_lines, port_lines, r.problems());
}

Result<std::string> check_env_name(std::string_view s) {
  bool ok = !s.empty();
  for (char ch : s) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_');
  if (!ok) return make_error("invalid environment variable name");
  return std::string(s);
}

void read_token(TableReader& t, AgentConfig& c) {
  t.string("token", c.token, check_secret);
  std::string var;
  if (!t.string("token_env", var, check_env_name)) return;
  if (t.table().contains("token")) {
    t.problem("token_env", "give token or token_env, not both");
    return;
  }
  const char* value = std::getenv(var.c_str());
  if (value == nullptr || *value == '\0') {
    t.problem("token_env", fmt::format("environment variable {} is not set", var));
    return;
  }
  if (auto r = check_secret(value); !r) {
    t.problem("token_env", fmt::format("environment variable {} {}", var, r.error().message));
    return;
  }
  c.token = value;
}

void read_agent_table(TableReader& t, AgentConfig& c) {
  t.string("relay", c.relay, [](std::string_view s) { return check_dial(s, ""); });
  read_token(t, c);
  t.string("relay_fingerprint", c.relay_fingerprint, normalize_fingerprint);
  t.string("relay_ca", c.relay_ca, check_path(t.problems().base_dir()));
  if (t.table().contains("relay_fingerprint") && t.table().contains("relay_ca")) {
    t.problem("relay_ca", "give relay_fingerprint or relay_ca, not both");
  }
  t.string("name", c.name, check_name);
  t.string("inspect", c.inspect, [](std::string_view s) -> Result<std::string> {
    if (s == "off") return std::string(s);
    return check_listen(s, "127.0.0.1");
  });
  t.string("inspect_db", c.inspect_db, [path = check_path(t.problems().base_dir())](std::string_view s) {
    return s == "state" ? Result<std::string>(std::string(s)) : path(s);
  });
  t.boolean("exit_on_failure", c.exit_on_failure);
  read_heartbeat(t, c.heartbeat);
  t.seconds("shutdown_grace", c.shutdown_grace, seconds(0), seconds(3600));
  t.finish();
}

}  // namespace

void read_agent_root(const toml::table& root, Problems& problems, AgentConfig& c) {
  TableReader r(root, "", problems);
  if (!check_version(r)) return;
  if (r.take("relay") != nullptr) {
    r.problem("relay", "belongs in a relay config (relay.toml), not an agent config");
  }
  if (const toml::node* n = r.take("agent")) {
    if (const auto* tbl = n->as_table()) {
      TableReader t(*tbl, "agent", problems);
      read_agent_table(t, c);
    } else {
      r.problem("agent", fmt::format("expected a table ([agent]), got {}", type_name(*n)));
    }
  }
  read_tunnels(r, c);
  r.finish();
}

}  // namespace detail

}  // namespace porthole::config
