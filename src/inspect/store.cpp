#include "inspect/store.hpp"

#include "core/metrics.hpp"

namespace porthole::inspect {

namespace {
metrics::Counter& evictions() {
  static auto& c = metrics::counter("porthole_inspect_evicted_total",
                                    "Captured exchanges dropped to stay under --inspect-memory");
  return c;
}
metrics::Gauge& held_bytes() {
  static auto& g = metrics::gauge("porthole_inspect_bytes", "Bytes held by captured exchanges");
  return g;
}
}  // namespace

std::size_t Exchange::memory() const {
  auto side = [](const Message& m) {
    std::size_t n = m.head.capacity() + m.body.capacity() + m.headers.capacity() * sizeof(proto::http1::Field);
    for (const auto& f : m.headers) n += f.name.capacity() + f.value.capacity();
    return n;
  };
  return sizeof(Exchange) + side(request) + side(response) + id.capacity() + tunnel.capacity() +
         remote_addr.capacity() + method.capacity() + uri.capacity() + reason.capacity() + error.capacity() +
         replay_of.capacity();
}

void Store::add(ExchangePtr e) {
  const auto size = e->memory();
  bytes_ += size;
  ring_.push_back(e);
  // Oldest first out; the newest stays even when it alone is over the cap (its body is already
  // bounded by the capture limit).
  while (bytes_ > max_bytes_ && ring_.size() > 1) {
    bytes_ -= ring_.front()->memory();
    if (on_evict) on_evict(ring_.front());
    ring_.pop_front();
    ++evicted_;
    evictions().inc();
  }
  held_bytes().set(static_cast<std::int64_t>(bytes_));
  // A listener may unsubscribe itself (a closed event stream): iterate over a copy of the keys.
  std::vector<int> ids;
  for (const auto& [id, l] : listeners_) ids.push_back(id);
  for (int id : ids) {
    if (auto it = listeners_.find(id); it != listeners_.end()) it->second(e);
  }
}

std::vector<ExchangePtr> Store::list(std::size_t limit, std::string_view tunnel) const {
  std::vector<ExchangePtr> out;
  for (auto it = ring_.rbegin(); it != ring_.rend(); ++it) {
    if (!tunnel.empty() && (*it)->tunnel != tunnel) continue;
    out.push_back(*it);
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

ExchangePtr Store::find(std::string_view id) const {
  for (auto it = ring_.rbegin(); it != ring_.rend(); ++it) {
    if ((*it)->id == id) return *it;
  }
  return nullptr;
}

void Store::clear() {
  ring_.clear();
  bytes_ = 0;
  held_bytes().set(0);
  if (on_clear) on_clear();
}

int Store::subscribe(Listener l) {
  const int id = next_listener_++;
  listeners_[id] = std::move(l);
  return id;
}

void Store::unsubscribe(int id) { listeners_.erase(id); }

}  // namespace porthole::inspect
