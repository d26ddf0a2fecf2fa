// Control messages (CONTROL frames on stream 0) and stream-open metadata, as JSON objects with
// a "type" field. Decoding is strict: wrong types, missing fields and oversized values are
// errors with a precise message. See docs/protocol.md for the exchange.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/result.hpp"

namespace porthole::proto {

inline constexpr int kProtocolVersion = 1;

// agent -> relay, first message: who I am and the proof that I hold a token.
struct Hello {
  int version = kProtocolVersion;
  std::string agent;     // agent name (informational)
  std::string token_id;  // proto::token_id(token)
  std::string proof;     // hex HMAC over the TLS channel binding
  std::string relay_host;  // the relay host name the agent dialed (for URLs visitors can use)
  // "agent" (serves tunnels) or "connect" (`porthole connect`: opens streams to private
  // endpoints, binds nothing). Absent = "agent".
  std::string role = "agent";
};

// relay -> agent: the session is authenticated.
struct Welcome {
  std::string session_id;
  std::string relay_version;
  std::string observed_addr;  // the agent's address as the relay sees it
};

// agent -> relay: expose a tunnel.
struct Bind {
  std::string tunnel;  // name, unique within the agent
  std::string proto = "tcp";
  std::optional<std::uint16_t> remote_port;
  std::string local;  // informational: where the agent forwards to
  // http: the name asked for (none: the relay picks a readable one).
  std::string subdomain, hostname;
  // Several agents of one token share the endpoint ("round-robin" or "least-conn"); "" = no
  // pool: this agent takes the endpoint over.
  std::string pool;
  // proto "private": the private (site-to-site) name, reached with `porthole connect NAME`.
  std::string private_name;
  // The tunnel's traffic policy as a canonical TOML document ("" = none; docs/policy.md). Up to
  // 60 KiB; the relay compiles it once for the endpoint.
  std::string policy;
  // http/tls at the https listener (docs/tls.md); absent fields keep the defaults, so older
  // agents and relays understand each other.
  std::string terminate_at;     // "" / "relay", or "agent": passthrough, the agent terminates
  bool redirect_https = false;  // the http port answers 308 to https
  std::string hsts;             // Strict-Transport-Security value ("" none)
  std::string mtls_ca;          // PEM of the CAs visitor certificates must chain to ("" no mTLS)
};

// relay -> agent: the tunnel is live (or not).
struct Bound {
  std::string tunnel;
  std::string public_url;  // e.g. tcp://localhost:20001
};
struct BindError {
  std::string tunnel;
  std::string message;
};

struct Unbind {
  std::string tunnel;
};

// relay -> agent: another agent bound this tunnel's endpoint, which no longer reaches us.
struct TakenOver {
  std::string tunnel;
  std::string public_url;
  std::string by;  // the other agent's address
};

// agent -> relay: the tunnel's local service passed or failed its health check (pools skip
// unhealthy members).
struct Health {
  std::string tunnel;
  bool healthy = true;
  std::string detail;
};

// agent -> relay: please connect back to my observed address on this port.
struct Probe {
  std::uint16_t port = 0;
};
struct ProbeResult {
  std::string observed_ip;
  bool reachable = false;
  std::string detail;
};

// relay -> agent: the session is refused or ends (bad token, version, ...).
struct Fatal {
  std::string code;  // "auth", "version", "protocol", "shutdown"
  std::string message;
};

using Control = std::variant<Hello, Welcome, Bind, Bound, BindError, Unbind, TakenOver, Health, Probe, ProbeResult, Fatal>;

std::string encode(const Control& message);
Result<Control> decode_control(std::string_view json);

// OPEN frame metadata: which tunnel a new stream is for and who the visitor is.
struct OpenMeta {
  std::string tunnel;
  std::string visitor;  // HOST:PORT of the visitor
  std::string kind;     // what the stream carries: "" (raw bytes, tcp) or "http" (one exchange)
                        // or, client -> relay, "connect": `tunnel` is the private name to reach
  // HOST:PORT the visitor connected to: the relay's listener, or the destination a trusted
  // proxy's PROXY header carried. Optional (older relays do not send it): for PROXY headers
  // towards the local service.
  std::string dest = {};  // (a default: OpenMeta{tunnel, visitor, kind} stays valid)
  // Exits (`porthole socks --via NAME`): HOST:PORT the exit is asked to connect to ([v6]:PORT;
  // HOST a name the exit resolves, or an address). Client -> relay on a "connect" stream, and
  // relay -> the exit agent as given. "" on every other stream.
  std::string target = {};
  // "udp" on an exit stream that is a SOCKS5 UDP association instead of one TCP connection (no
  // `target`: each DATAGRAM frame names its own destination in a SOCKS UDP header). Client ->
  // relay on a "connect" stream, and relay -> the exit agent as given. "" otherwise.
  std::string transport = {};
};
std::string encode(const OpenMeta& meta);
Result<OpenMeta> decode_open(std::string_view json);

}  // namespace porthole::proto
