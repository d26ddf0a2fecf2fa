#include "relay/registry.hpp"

#include <algorithm>

namespace porthole::relay {

namespace {
std::atomic<std::uint64_t> next_registry_id{1};
}

std::shared_ptr<Endpoint> RouteTable::find(std::string_view host) const {
  if (auto it = exact_.find(std::string(host)); it != exact_.end()) return it->second;
  for (const auto& [suffix, ep] : wildcards_) {
    if (host.size() > suffix.size() && host.ends_with(suffix)) return ep;
  }
  return nullptr;
}

EndpointRegistry::EndpointRegistry()
    : id_(next_registry_id.fetch_add(1)), published_(std::make_shared<const RouteTable>()) {}

std::shared_ptr<Endpoint> EndpointRegistry::find(std::string_view kind, std::string_view name) const {
  std::string key;
  key.reserve(kind.size() + 1 + name.size());
  key.append(kind).append(":").append(name);
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second.endpoint;
}

void EndpointRegistry::add(const std::shared_ptr<Endpoint>& ep, bool host_routed) {
  by_key_[ep->key()] = Entry{ep, host_routed};
  if (host_routed) publish();
}

void EndpointRegistry::remove(const std::shared_ptr<Endpoint>& ep) {
  auto it = by_key_.find(ep->key());
  if (it == by_key_.end() || it->second.endpoint != ep) return;
  const bool routed = it->second.host_routed;
  by_key_.erase(it);
  if (routed) publish();
}

std::vector<std::shared_ptr<Endpoint>> EndpointRegistry::all() const {
  std::vector<std::shared_ptr<Endpoint>> out;
  out.reserve(by_key_.size());
  for (const auto& [key, e] : by_key_) out.push_back(e.endpoint);
  return out;
}

void EndpointRegistry::publish() {
  auto table = std::make_shared<RouteTable>();
  for (const auto& [key, e] : by_key_) {
    if (!e.host_routed) continue;
    const auto& name = e.endpoint->name();
    if (name.starts_with("*.")) {
      table->wildcards_.emplace_back(name.substr(1), e.endpoint);
    } else {
      table->exact_[name] = e.endpoint;
    }
  }
  std::stable_sort(table->wildcards_.begin(), table->wildcards_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
  std::lock_guard lock(publish_mu_);
  published_ = std::move(table);
  version_.fetch_add(1, std::memory_order_release);
}

std::shared_ptr<const RouteTable> EndpointRegistry::routes() const {
  struct Cache {
    std::uint64_t registry = 0, version = ~std::uint64_t{0};
    std::shared_ptr<const RouteTable> table;
  };
  thread_local Cache cache;
  const auto v = version_.load(std::memory_order_acquire);
  if (cache.registry != id_ || cache.version != v) {
    std::lock_guard lock(publish_mu_);
    cache.table = published_;
    cache.registry = id_;
    cache.version = v;
  }
  return cache.table;
}

}  // namespace porthole::relay
