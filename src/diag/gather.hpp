// Gathers the Facts `porthole doctor` judges (the I/O lives here and in probes.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "diag/facts.hpp"
#include "router/router.hpp"

namespace porthole::diag {

struct GatherOptions {
  std::optional<std::uint16_t> port;
  std::optional<config::AgentConfig> relay;  // set when --relay was given
  router::Options router;
  std::chrono::seconds relay_timeout{5};
  int max_hops = 3;
  std::chrono::milliseconds hop_timeout{700};
};

Fact<std::vector<Listener>> gather_listeners(std::uint16_t port);
Fact<NetworkFact> gather_network(const router::Options& opts);
Fact<RouterFact> router_fact(const Result<router::ProbeReport>& probe);
// The mapping that reaches lan:port (or one that already uses `port` as its external port).
MappingFact find_mapping(const std::vector<router::Mapping>& mappings, const std::string& lan,
                         std::uint16_t port);

Facts gather_facts(const GatherOptions& opts);

}  // namespace porthole::diag
