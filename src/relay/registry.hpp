// The relay's endpoints, keyed by kind and name, and the host route table the shared listeners
// read on every request. Changes (binds, unbinds) happen on the relay's thread and are rare;
// reads happen per request, on any thread: each change publishes a new immutable RouteTable,
// and readers keep a per-thread copy that they refresh only when the version moved (one atomic
// load per request, no lock on the read path).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "relay/endpoint.hpp"

namespace porthole::relay {

// Host name → endpoint, immutable once published. Exact names win over wildcards
// (`*.example.test`), and a longer wildcard suffix wins over a shorter one.
class RouteTable {
 public:
  // `host` is normalized (lower case, no port, no trailing dot).
  std::shared_ptr<Endpoint> find(std::string_view host) const;
  std::size_t size() const { return exact_.size() + wildcards_.size(); }

 private:
  friend class EndpointRegistry;
  std::unordered_map<std::string, std::shared_ptr<Endpoint>> exact_;
  std::vector<std::pair<std::string, std::shared_ptr<Endpoint>>> wildcards_;  // ".suffix", longest first
};

class EndpointRegistry {
 public:
  EndpointRegistry();

  std::shared_ptr<Endpoint> find(std::string_view kind, std::string_view name) const;
  // Registers `ep`; `host_routed` endpoints (http, later tls) are published in the route table
  // under their name.
  void add(const std::shared_ptr<Endpoint>& ep, bool host_routed);
  void remove(const std::shared_ptr<Endpoint>& ep);
  std::vector<std::shared_ptr<Endpoint>> all() const;
  std::size_t size() const { return by_key_.size(); }

  // The current route table (per-thread copy, refreshed when a change was published).
  std::shared_ptr<const RouteTable> routes() const;

 private:
  void publish();

  struct Entry {
    std::shared_ptr<Endpoint> endpoint;
    bool host_routed = false;
  };
  std::map<std::string, Entry, std::less<>> by_key_;  // "kind:name"
  std::uint64_t id_;                                   // tells registries apart in thread caches
  std::atomic<std::uint64_t> version_{0};
  mutable std::mutex publish_mu_;  // guards `published_` (taken on change, and by a reader once per change)
  std::shared_ptr<const RouteTable> published_;
};

}  // namespace porthole::relay
