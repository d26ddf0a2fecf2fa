#include "relay/admin_json.hpp"

#include <ctime>

namespace porthole::relay {

std::string format_utc(std::int64_t unix_s) {
  std::time_t t = static_cast<std::time_t>(unix_s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json to_json(const TokenRecord& t) {
  nlohmann::json j = {{"name", t.name},
                      {"id", t.id},
                      {"allow_subdomain", t.scopes.allow_subdomain},
                      {"allow_hostname", t.scopes.allow_hostname},
                      {"allow_port", format_port_scope(t.scopes.allow_port)},
                      {"allow_private", t.scopes.allow_private},
                      {"allow_connect", t.scopes.allow_connect},
                      {"allow_exit", t.scopes.allow_exit},
                      {"created_at", format_utc(t.created_at)},
                      {"revoked_at", nullptr},
                      {"static", t.is_static}};
  if (t.revoked_at) j["revoked_at"] = format_utc(*t.revoked_at);
  return j;
}

nlohmann::json to_json(const AgentInfo& a) {
  return {{"id", a.id},           {"name", a.name},     {"token", a.token_name},  {"address", a.address},
          {"streams", a.streams}, {"rtt_us", a.rtt_us}, {"bytes_in", a.bytes_in}, {"bytes_out", a.bytes_out}};
}

nlohmann::json to_json(const EndpointInfo& e) {
  return {{"key", e.key},
          {"tunnel", e.tunnel},
          {"token", e.token_name},
          {"public_url", e.public_url},
          {"port", e.port},
          {"agent_id", e.agent_id},
          {"visitors_total", e.visitors_total},
          {"visitors_open", e.visitors_open}};
}

}  // namespace porthole::relay
