// The configuration model: what relay.toml and porthole.toml (agent) mean, after parsing.
// Defaults live here, in one place; command-line flags override fields of these structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/address.hpp"

namespace porthole::config {

using Seconds = std::chrono::seconds;

// Liveness settings shared by relay and agent.
struct Heartbeat {
  Seconds interval{3};  // a PING is sent after this much idle time
  Seconds timeout{10};  // the link is declared dead after this much silence
};

// A certificate for the https listener: `[[certificate]]` in relay.toml (docs/tls.md).
struct CertificateConfig {
  std::string host;  // "app.example.test", "*.example.test"; "" = the names in the certificate
  std::string cert_file, key_file;
};

struct RelayConfig {
  std::string agents = "0.0.0.0:7000";  // TLS 1.3 listener for agents
  std::string http = "0.0.0.0:8080";
  std::string https = "0.0.0.0:8443";
  std::string admin = "127.0.0.1:7001";
  std::string domain = "localhost";
  PortRange tcp_ports{20000, 29999};
  PortRange udp_ports{20000, 29999};
  // udp endpoints (docs/forward.md): a visitor's flow ends after this much silence; at most this
  // many flows per endpoint (at the cap the least recently used one is evicted).
  Seconds udp_flow_timeout{60};
  std::uint32_t udp_max_flows = 4096;
  std::string data_dir = "./porthole-data";
  std::string cert_file;  // empty: self-signed certificate kept in data_dir
  std::string key_file;
  std::vector<std::string> tokens;  // accepted agent tokens (besides those in the SQLite store)
  Heartbeat heartbeat;
  Seconds handshake_timeout{5};
  std::uint32_t max_pending_handshakes = 512;
  std::uint32_t max_pending_per_ip = 16;
  Seconds shutdown_grace{10};
  // HTTP visitors (the --http listener).
  std::vector<std::string> trusted_proxies;  // CIDRs whose X-Forwarded-*/Forwarded are kept
  Seconds http_head_timeout{10};     // a request head must arrive within this (slowloris)
  Seconds http_idle_timeout{60};     // a keep-alive connection may wait this long for a request
  Seconds http_body_timeout{60};     // a body may stall this long
  Seconds upstream_timeout{60};      // the local service must start its response within this
  std::uint32_t max_http_conns_per_ip = 256;  // at the cap the oldest idle one is closed
  // PROXY protocol on the public tcp and http listeners (docs/proxy-protocol.md): peers in these
  // CIDRs must send a header (it gives the visitor address); from anyone else one is refused.
  std::vector<std::string> accept_proxy_protocol_from;
  Seconds proxy_header_timeout{5};  // the header must arrive within this
  // Operator rules ([policy] in relay.toml), as canonical policy TOML; evaluated before every
  // endpoint's own rules (docs/policy.md). "" = none.
  std::string policy;
  // HTTPS visitors (the --https listener, docs/tls.md).
  std::vector<CertificateConfig> certificates;
  Seconds tls_handshake_timeout{10};         // ClientHello + handshake must finish within this
  std::uint32_t max_tls_handshakes = 4096;     // at the cap the oldest pending handshake is dropped
  // ACME (docs/acme.md). acme_directory: "" = Let's Encrypt when --domain is a public name,
  // else off; "off"; or a directory URL.
  std::string acme_directory;
  std::string acme_email;
  std::string acme_ca;                     // CA bundle for the ACME server's HTTPS (tests: pebble)
  std::string acme_challenge = "http-01";  // or tls-alpn-01
  std::string jwks_ca;                     // CA bundle for policies' jwks_url servers ("" = system trust)
  // Private ranges the relay's own policy fetches (JWKS, OIDC) may reach; public only otherwise.
  std::vector<std::string> policy_fetch_allow;
  // The relay's own exit (`porthole socks --via relay`, [exit] in relay.toml, docs/socks.md):
  // where its streams may go (policy/dest_check.hpp entries; none = the relay is no exit).
  std::vector<std::string> exit_allow_dest;
  std::string exit_hosts_file;
};

struct TunnelConfig {
  std::string name;
  std::string proto = "tcp";                 // tcp, http, tls (later: udp)
  HostPort local;                            // the local service the tunnel forwards to
  std::optional<std::uint16_t> remote_port;  // asked-for public port
  std::string pool;                          // "", "round-robin", "least-conn": share with other agents
  std::string health_check;                  // http: a path to GET; tcp: "connect"; "" = none
  std::string private_name;                  // tcp: a private endpoint (no public port), see `connect`
  // http
  std::string subdomain, hostname;
  std::string host_header = "preserve";  // preserve | rewrite | a literal value
  std::string upstream = "http";         // http | https (the local service speaks TLS)
  bool upstream_insecure = false;        // do not verify the local service's certificate
  // tcp, http (and tls, udp): 1 or 2 = write a PROXY protocol header of that version, carrying
  // the visitor's address, first on each new local connection; 0 = none.
  int upstream_proxy_protocol = 0;
  // Traffic policy (docs/policy.md) as a canonical TOML document, sent in Bind; "" = none.
  // From [tunnel.policy] inline, or `policy_file` (read by load_agent_config).
  std::string policy;
  std::string policy_file;
  bool allow_public = false;  // tcp: expose a sensitive port (database, RDP, ...) anyway
  // http at the relay's https listener (docs/tls.md)
  std::string terminate_at = "relay";    // relay | agent (the agent terminates with tls_cert/tls_key)
  std::string tls_cert, tls_key;         // terminate_at agent: the certificate and key (never sent)
  bool redirect_https = false;           // the relay's http port answers 308 to https
  std::uint32_t hsts_max_age = 0;        // Strict-Transport-Security max-age on https responses (0 none)
  std::string mtls_ca;                   // file: visitors must present a certificate from these CAs
  std::optional<int> source_line;            // where it was defined, for messages
  // exit (`porthole exit NAME`, private_name = NAME): where streams may go (policy/dest_check.hpp)
  std::vector<std::string> allow_dest;
  std::string hosts_file;  // names listed there resolve to their listed addresses only
};

struct AgentConfig {
  std::string relay;              // HOST:PORT; env PORTHOLE_RELAY
  std::string token;              // env PORTHOLE_TOKEN
  std::string relay_fingerprint;  // SHA-256 of the relay certificate (hex)
  std::string relay_ca;           // CA file for the relay certificate
  std::string name;               // agent name (defaults to the host name)
  std::string inspect = "127.0.0.1:4040";
  std::string inspect_db;         // captures persisted here ("" none, "state": the state dir)
  bool exit_on_failure = false;
  Heartbeat heartbeat;
  Seconds shutdown_grace{10};
  std::vector<TunnelConfig> tunnels;
};

}  // namespace porthole::config
