#include "relay/admin_routes.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "proto/auth.hpp"
#include "relay/admin_json.hpp"

namespace porthole::relay::admin {
namespace {

using nlohmann::json;

std::string_view error_reason(int status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "body_too_large";
    case 431:
      return "header_too_large";
    case 503:
      return "busy";
    default:
      return "internal";
  }
}

Response json_response(int status, const json& j) {
  Response r;
  r.status = status;
  // Paths and methods come from the network: never throw on invalid UTF-8.
  r.body = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

Response no_content() {
  Response r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

template <class T>
json array_of(const std::vector<T>& items) {
  json arr = json::array();
  for (const auto& i : items) arr.push_back(to_json(i));
  return arr;
}

// ---- handlers: (backend, request, path argument) -> response ----

Response healthz(Backend& b, const Request&, std::string_view) {
  return json_response(200, {{"status", "ok"},
                             {"agents", b.agents().size()},
                             {"endpoints", b.endpoints().size()},
                             {"uptime_s", b.uptime_s()}});
}

Response metrics_text(Backend&, const Request&, std::string_view) {
  Response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = metrics::render_prometheus();
  return r;
}

Response list_agents(Backend& b, const Request&, std::string_view) {
  return json_response(200, {{"agents", array_of(b.agents())}});
}

Response kick_agent(Backend& b, const Request&, std::string_view id) {
  if (!b.kick(id)) return error_response(404, fmt::format("no agent with id '{}'", id));
  b.store().audit("agent.kick", fmt::format("id={} via=admin", id));
  spdlog::info("admin API: kicked agent session {}", id);
  return no_content();
}

Response list_endpoints(Backend& b, const Request&, std::string_view) {
  return json_response(200, {{"endpoints", array_of(b.endpoints())}});
}

Response list_tokens(Backend& b, const Request&, std::string_view) {
  return json_response(200, {{"tokens", array_of(b.store().list_tokens())}});
}

// Reads the optional string field `key` of `body` into `out`; false when it is not a string.
bool string_field(const json& body, const char* key, std::string& out) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  out = it->get<std::string>();
  return true;
}

Response create_token(Backend& b, const Request& req, std::string_view) {
  auto body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) return error_response(400, "body must be a JSON object");
  static constexpr std::array<const char*, 7> kKeys = {"name",          "allow_subdomain", "allow_port",
                                                       "allow_private", "allow_hostname",  "allow_connect",
                                                       "allow_exit"};
  std::array<std::string, 7> v;
  for (std::size_t i = 0; i < kKeys.size(); ++i) {
    if (!string_field(body, kKeys[i], v[i]))
      return error_response(400, fmt::format("'{}' must be a string", kKeys[i]));
  }
  for (const auto& [key, value] : body.items()) {
    if (std::find_if(kKeys.begin(), kKeys.end(), [&](const char* k) { return key == k; }) == kKeys.end()) {
      return error_response(400, fmt::format("unknown key '{}'", key));
    }
  }
  if (auto r = validate_token_name(v[0]); !r) return error_response(400, r.error().message);
  auto scopes = parse_scopes(v[1], v[2], v[3], v[4], v[5], v[6]);
  if (!scopes) return error_response(400, scopes.error().message);
  auto& store = b.store();
  if (auto existing = store.find_token_by_name(v[0]); existing && !existing->revoked_at) {
    return error_response(409, fmt::format("a token named '{}' exists", v[0]));
  }
  auto token = store.create_token(v[0], *scopes);
  if (!token) return error_response(500, token.error().message);
  store.audit("token.create", fmt::format("name={} id={} scopes={} via=admin", v[0], proto::token_id(*token),
                                          describe(*scopes)));
  auto rec = store.find_token_by_name(v[0]);
  json j = rec ? to_json(*rec) : json{{"name", v[0]}, {"id", proto::token_id(*token)}};
  j["token"] = *token;
  return json_response(201, j);
}

Response revoke_token(Backend& b, const Request&, std::string_view name) {
  auto& store = b.store();
  auto existing = store.find_token_by_name(name);
  if (!existing) return error_response(404, fmt::format("no token named '{}'", name));
  if (auto r = store.revoke_token(name); !r) return error_response(409, r.error().message);
  store.audit("token.revoke", fmt::format("name={} via=admin", name));
  return no_content();
}

Response list_certificates(Backend& b, const Request&, std::string_view) { return json_response(200, b.certificates()); }

Response renew_certificate(Backend& b, const Request&, std::string_view host) {
  if (!b.renew_certificate(host)) return error_response(404, fmt::format("no ACME certificate is managed for '{}'", host));
  spdlog::info("admin API: certificate renewal for {} requested", host);
  return json_response(202, {{"host", host}, {"state", "renewing"}});
}

struct Route {
  std::string_view method;
  std::string_view path;  // exact, or a prefix ending in '/' followed by one path segment
  bool with_arg;
  Response (*handler)(Backend&, const Request&, std::string_view);
};

constexpr std::array<Route, 10> kRoutes = {{
    {"GET", "/healthz", false, healthz},
    {"GET", "/metrics", false, metrics_text},
    {"GET", "/api/agents", false, list_agents},
    {"DELETE", "/api/agents/", true, kick_agent},
    {"GET", "/api/endpoints", false, list_endpoints},
    {"GET", "/api/tokens", false, list_tokens},
    {"POST", "/api/tokens", false, create_token},
    {"DELETE", "/api/tokens/", true, revoke_token},
    {"GET", "/api/certificates", false, list_certificates},
    {"POST", "/api/certificates/", true, renew_certificate},
}};

// The path argument when `path` matches `r`, or nullopt.
std::optional<std::string_view> match(const Route& r, std::string_view path) {
  if (!r.with_arg) return path == r.path ? std::optional<std::string_view>("") : std::nullopt;
  if (!path.starts_with(r.path)) return std::nullopt;
  auto arg = path.substr(r.path.size());
  bool ok = !arg.empty() && arg.size() <= 128 && std::all_of(arg.begin(), arg.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
  return ok ? std::optional(arg) : std::nullopt;
}

}  // namespace

bool auth_exempt(std::string_view listen_host) {
  return listen_host == "127.0.0.1" || listen_host == "::1" || listen_host == "localhost";
}

bool authorized(const Store& store, std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return false;
  auto rec = store.find_token(proto::token_id(token));
  if (!rec) return false;
  const auto key = proto::token_key(token);
  return CRYPTO_memcmp(key.data(), rec->key.data(), key.size()) == 0;
}

void count_error(std::string_view reason) {
  metrics::counter(fmt::format("porthole_admin_errors_total{{reason=\"{}\"}}", reason),
                   "Admin API requests refused or connections dropped, by reason")
      .inc();
}

Response error_response(int status, std::string_view message) {
  count_error(error_reason(status));
  return json_response(status, {{"error", message}, {"status", status}});
}

Response handle(Backend& backend, const Request& req, bool require_auth) {
  static auto& requests = metrics::counter("porthole_admin_requests_total", "Admin API requests");
  requests.inc();
  if (req.target.empty() || req.target.front() != '/')
    return error_response(400, "request target must be a path");
  if (require_auth && !authorized(backend.store(), req.authorization)) {
    auto r = error_response(401, "this admin API needs 'Authorization: Bearer <relay token>'");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"porthole relay admin\"");
    return r;
  }
  std::string_view path = req.target;
  path = path.substr(0, path.find('?'));
  std::string allow;
  for (const auto& r : kRoutes) {
    auto arg = match(r, path);
    if (!arg) continue;
    if (r.method == req.method) return r.handler(backend, req, *arg);
    if (!allow.empty()) allow += ", ";
    allow += r.method;
  }
  if (allow.empty()) return error_response(404, fmt::format("no such endpoint: {}", path));
  auto r = error_response(405, fmt::format("{} does not allow {} (allowed: {})", path, req.method, allow));
  r.headers.emplace_back("Allow", allow);
  return r;
}

}  // namespace porthole::relay::admin
