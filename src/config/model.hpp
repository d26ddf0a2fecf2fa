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

struct RelayConfig {
  std::string agents = "0.0.0.0:7000";  // TLS 1.3 listener for agents
  std::string http = "0.0.0.0:8080";
  std::string https = "0.0.0.0:8443";
  std::string admin = "127.0.0.1:7001";
  std::string domain = "localhost";
  PortRange tcp_ports{20000, 29999};
  PortRange udp_ports{20000, 29999};
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
  // ACME (docs/acme.md). acme_directory: "" = Let's Encrypt when --domain is a public name,
  // else off; "off"; or a directory URL.
  std::string acme_directory;
  std::string acme_email;
  std::string acme_ca;                     // CA bundle for the ACME server's HTTPS (tests: pebble)
  std::string acme_challenge = "http-01";  // or tls-alpn-01
};

struct TunnelConfig {
  std::string name;
  std::string proto = "tcp";                 // tcp, http (later: tls, udp)
  HostPort local;                            // the local service the tunnel forwards to
  std::optional<std::uint16_t> remote_port;  // asked-for public port
  std::string pool;                          // "", "round-robin", "least-conn": share with other agents
  std::string health_check;                  // http: a path to GET; tcp: "connect"; "" = none
  // http
  std::string subdomain, hostname;
  std::string host_header = "preserve";  // preserve | rewrite | a literal value
  std::string upstream = "http";         // http | https (the local service speaks TLS)
  bool upstream_insecure = false;        // do not verify the local service's certificate
  std::optional<int> source_line;            // where it was defined, for messages
};

struct AgentConfig {
  std::string relay;              // HOST:PORT; env PORTHOLE_RELAY
  std::string token;              // env PORTHOLE_TOKEN
  std::string relay_fingerprint;  // SHA-256 of the relay certificate (hex)
  std::string relay_ca;           // CA file for the relay certificate
  std::string name;               // agent name (defaults to the host name)
  std::string inspect = "127.0.0.1:4040";
  bool exit_on_failure = false;
  Heartbeat heartbeat;
  Seconds shutdown_grace{10};
  std::vector<TunnelConfig> tunnels;
};

}  // namespace porthole::config
