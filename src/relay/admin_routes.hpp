// The relay admin API without I/O: a parsed request in, a response out (docs/admin-api.md).
// admin.cpp does the HTTP; everything here is unit-tested without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "relay/relay.hpp"
#include "relay/store.hpp"

namespace porthole::relay::admin {

inline constexpr std::size_t kMaxBody = 64 * 1024;
inline constexpr std::size_t kMaxHeader = 16 * 1024;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form: "/api/agents?x=y"
  std::string authorization;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra: Allow, WWW-Authenticate
};

// What the routes need from the relay (Relay in production, a fake in tests).
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<AgentInfo> agents() const = 0;
  virtual std::vector<EndpointInfo> endpoints() const = 0;
  virtual bool kick(std::string_view agent_id) = 0;
  virtual Store& store() = 0;
  virtual std::int64_t uptime_s() const = 0;
  // ACME (docs/acme.md): {"directory": URL or null, "certificates": [...]}; renew_certificate
  // false when the host is not managed (or ACME is off).
  virtual nlohmann::json certificates() const { return {{"directory", nullptr}, {"certificates", nlohmann::json::array()}}; }
  virtual bool renew_certificate(std::string_view) { return false; }
};

// True for the listen hosts that need no token: 127.0.0.1, ::1 and localhost. Every other
// address (0.0.0.0, a LAN address, and also 127.0.0.2 and the like) requires a token.
bool auth_exempt(std::string_view listen_host);

// True when `authorization` is "Bearer <token>" and <token> is an active relay token
// (looked up by proto::token_id, key compared in constant time).
bool authorized(const Store& store, std::string_view authorization);

// Bumps porthole_admin_errors_total{reason="<reason>"}.
void count_error(std::string_view reason);

// {"error": message, "status": status}, and bumps porthole_admin_errors_total{reason=...}.
Response error_response(int status, std::string_view message);

// Routes one request. With `require_auth`, requests without a valid token get 401.
Response handle(Backend& backend, const Request& req, bool require_auth);

}  // namespace porthole::relay::admin
