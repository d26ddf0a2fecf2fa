// UDP flows by visitor address, with a bound: the least recently used flow is evicted when a
// new one would pass it, and flows idle longer than the timeout expire. Pure (no I/O, the clock
// is passed in), unit-tested; the forwarder and the relay keep one per UDP listener.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <unordered_map>

namespace porthole {

// A visitor address: 16 bytes of IPv6 (IPv4 mapped) and the port.
struct FlowKey {
  std::array<std::uint8_t, 18> bytes{};
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& k) const noexcept {
    std::uint64_t a = 0, b = 0;
    std::uint16_t c = 0;
    std::memcpy(&a, k.bytes.data(), 8);
    std::memcpy(&b, k.bytes.data() + 8, 8);
    std::memcpy(&c, k.bytes.data() + 16, 2);
    std::uint64_t h = a * 0x9E3779B97F4A7C15ULL;
    h ^= (b + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2));
    h ^= (c + 0x94D049BB133111EBULL + (h << 6) + (h >> 2));
    return static_cast<std::size_t>(h);
  }
};

template <class V>
class FlowTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Evict = std::function<void(V&)>;

  explicit FlowTable(std::size_t max_flows) : max_(max_flows == 0 ? 1 : max_flows) {}

  // The flow of `k`, marked as used now; nullptr when there is none.
  V* find(const FlowKey& k, Clock::time_point now) {
    auto it = index_.find(k);
    if (it == index_.end()) return nullptr;
    touch(it->second, now);
    return &it->second->value;
  }

  // The flow of `k` without marking it used.
  V* peek(const FlowKey& k) {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &it->second->value;
  }

  // Adds a flow (there must be none for `k`). At the bound, the least recently used flow is
  // evicted first and handed to `on_evict`. Returns the new flow.
  V& insert(const FlowKey& k, V value, Clock::time_point now, const Evict& on_evict) {
    while (lru_.size() >= max_) evict_front(on_evict);
    lru_.push_back(Entry{k, std::move(value), now});
    index_.emplace(k, std::prev(lru_.end()));
    return lru_.back().value;
  }

  // Removes the flows idle for at least `idle`; returns how many.
  std::size_t expire(Clock::time_point now, Clock::duration idle, const Evict& on_evict) {
    std::size_t n = 0;
    while (!lru_.empty() && now - lru_.front().last >= idle) {
      evict_front(on_evict);
      ++n;
    }
    return n;
  }

  // Removes one flow (when its socket failed).
  void erase(const FlowKey& k) {
    auto it = index_.find(k);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
  }

  void clear() {
    index_.clear();
    lru_.clear();
  }

  template <class F>
  void for_each(F&& f) {
    for (auto& e : lru_) f(e.value);
  }

  std::size_t size() const { return lru_.size(); }
  std::size_t max() const { return max_; }

 private:
  struct Entry {
    FlowKey key;
    V value;
    Clock::time_point last;
  };
  using Iter = typename std::list<Entry>::iterator;

  void touch(Iter it, Clock::time_point now) {
    it->last = now;
    lru_.splice(lru_.end(), lru_, it);  // O(1): most recent at the back
  }
  void evict_front(const Evict& on_evict) {
    auto& e = lru_.front();
    index_.erase(e.key);
    if (on_evict) on_evict(e.value);
    lru_.pop_front();
  }

  std::size_t max_;
  std::list<Entry> lru_;
  std::unordered_map<FlowKey, Iter, FlowKeyHash> index_;
};

}  // namespace porthole
