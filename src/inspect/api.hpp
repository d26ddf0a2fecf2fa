// The agent API (ngrok-compatible shapes, docs/inspector.md): routes from a parsed request to a
// response, with the agent behind a Backend so the routes know nothing of sessions. The HTTP
// server (server.cpp) does the I/O; the DNS-rebinding and cross-origin guards are here.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "inspect/recorder.hpp"
#include "inspect/stats.hpp"
#include "net/asio.hpp"

namespace porthole::inspect {

struct TunnelInfo {
  std::string name, proto, public_url, addr, error;
  bool inspect = false;
  StatsSnapshot conns, http;
};

// POST /api/tunnels: ngrok's tunnel definition fields that porthole knows.
struct TunnelSpec {
  std::string name, proto = "http", addr, subdomain, hostname, host_header;
  bool inspect = true;
};

struct StatusInfo {
  std::string session;  // "online", "connecting", "reconnecting"
  std::string reason;   // why not online
  std::string relay, version, agent_name, token_name;
  std::int64_t latency_us = 0;
  std::int64_t uptime_s = 0;
  std::uint64_t reconnects = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<TunnelInfo> tunnels() = 0;
  // Starts a tunnel and waits (bounded) for the relay's answer; Errc::conflict if the name is
  // taken, Errc::protocol for a bad spec, the relay's refusal otherwise.
  virtual net::Task<Result<TunnelInfo>> start_tunnel(TunnelSpec spec) = 0;
  virtual Result<void> stop_tunnel(std::string_view name) = 0;
  // Sends `request` (head + body bytes) to the tunnel's local service the way a visitor's
  // request goes; the answer's status code.
  virtual net::Task<Result<int>> replay(std::string tunnel, std::string request, std::string replay_of) = 0;
  virtual StatusInfo status() = 0;
};

struct Request {
  std::string method, target, host, origin, sec_fetch_site, content_type, body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Where the API listens (for the Host and Origin checks).
struct ListenInfo {
  std::string host;  // as bound: "127.0.0.1", "::1", "0.0.0.0", a name
  std::uint16_t port = 0;
};

// DNS-rebinding guard: the Host is the listen address, localhost, 127.0.0.1 or [::1], with
// our port. Empty reason = allowed.
std::string check_host(const Request& r, const ListenInfo& at);
// Cross-origin writes: a write (not GET/HEAD/OPTIONS) with an Origin that is not ours, or a
// Sec-Fetch-Site other than same-origin/none, is refused. Empty reason = allowed.
std::string check_origin(const Request& r, const ListenInfo& at);

// Answers one request. `recorder` is null with --inspect off (the request routes say so).
net::Task<Response> handle(Backend& backend, Recorder* recorder, const ListenInfo& at, const Request& r);

Response json_error(int status, int error_code, std::string_view msg);
// The body of a replay request made from a capture and optional edits (pure; errors name the
// field). Exposed for tests.
struct ReplayEdits {
  std::optional<std::string> method, uri, body;
  std::optional<std::vector<proto::http1::Field>> headers;
};
Result<std::string> build_replay(const Exchange& e, const ReplayEdits& edits);

}  // namespace porthole::inspect
