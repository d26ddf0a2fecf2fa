// JSON shapes of the relay admin API (docs/admin-api.md), shared by the server and the CLI.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "relay/relay.hpp"
#include "relay/store.hpp"

namespace porthole::relay {

// "2024-05-01T12:00:00Z".
std::string format_utc(std::int64_t unix_s);

// {name, id, allow_subdomain, allow_hostname, allow_port, allow_private, created_at,
// revoked_at|null, static}.
// Never the secret (the store does not have it).
nlohmann::json to_json(const TokenRecord& t);
// {id, name, token, address, streams, rtt_us, bytes_in, bytes_out}.
nlohmann::json to_json(const AgentInfo& a);
// {key, tunnel, token, public_url, port, agent_id, visitors_total, visitors_open}.
nlohmann::json to_json(const EndpointInfo& e);

}  // namespace porthole::relay
