// Internal to the router layer: one set of functions per method (PCP, NAT-PMP, UPnP IGD), and
// the state file that records which mappings porthole made. Client (client.cpp) composes them.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "router/pcp_codec.hpp"
#include "router/router.hpp"

namespace porthole::router::detail {

struct Ctx {
  const Gateway& gw;
  std::chrono::milliseconds timeout;
};

// Counts and logs one ignored/failed router reply: porthole_router_ignored_total{reason=...}.
void count_ignored(std::string_view method, std::string_view reason, std::string_view detail);
void count_error(std::string_view method, std::string_view reason);

// ---- PCP (pcp_client.cpp) ----
MethodProbe pcp_probe(const Ctx& c);
// lifetime 0 deletes. `nonce` must be the one the mapping was made with to renew or delete it.
Result<Mapping> pcp_map(const Ctx& c, const MappingRequest& req, const pcp::Nonce& nonce,
                        std::uint32_t lifetime);
pcp::Nonce pcp_random_nonce();

// ---- NAT-PMP (natpmp_client.cpp) ----
MethodProbe natpmp_probe(const Ctx& c);
Result<Mapping> natpmp_map(const Ctx& c, const MappingRequest& req, std::uint32_t lifetime);

// ---- UPnP IGD (upnp_client.cpp) ----
MethodProbe upnp_probe(const Ctx& c);
Result<Mapping> upnp_add(const Ctx& c, const MappingRequest& req);
Result<void> upnp_remove(const Ctx& c, std::uint16_t external_port, Protocol p);
Result<std::vector<Mapping>> upnp_list(const Ctx& c);
Result<Mapping> upnp_get(const Ctx& c, std::uint16_t external_port, Protocol p);

// ---- state file (state.cpp) ----
struct Record {
  Method method = Method::upnp;
  Protocol protocol = Protocol::tcp;
  std::uint16_t external_port = 0;
  std::uint16_t internal_port = 0;
  std::string internal_address;
  std::string gateway;
  std::string nonce_hex;  // PCP only
  std::string description;
  std::uint32_t lease_seconds = 0;
};

std::string default_state_path();
// Missing file = empty. A corrupt file is reported and treated as empty (never trusted).
std::vector<Record> load_records(const std::string& path);
// Replaces the file (write to PATH.tmp.PID, rename). Callers that change records use
// update_records, which holds the lock.
Result<void> save_records(const std::string& path, const std::vector<Record>& records);
// Load, change, save under an exclusive flock(2) on PATH.lock (waits up to 5 s for it), so
// concurrent `porthole map` processes do not lose each other's records.
Result<void> update_records(const std::string& path, const std::function<void(std::vector<Record>&)>& change);
std::string nonce_to_hex(const pcp::Nonce& n);
std::optional<pcp::Nonce> nonce_from_hex(std::string_view hex);

}  // namespace porthole::router::detail
