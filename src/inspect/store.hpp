// The captured exchanges, newest last, in a ring bounded by bytes (--inspect-memory): adding
// past the cap drops the oldest. Listeners hear each new exchange (the inspector's live list).
// One thread: the agent's io_context.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string_view>
#include <vector>

#include "inspect/exchange.hpp"

namespace porthole::inspect {

class Store {
 public:
  explicit Store(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  void add(ExchangePtr e);
  // Newest first; `limit` 0 = all; `tunnel` "" = every tunnel.
  std::vector<ExchangePtr> list(std::size_t limit = 0, std::string_view tunnel = {}) const;
  ExchangePtr find(std::string_view id) const;
  void clear();

  std::size_t bytes() const { return bytes_; }
  std::size_t size() const { return ring_.size(); }
  std::size_t max_bytes() const { return max_bytes_; }
  std::uint64_t evicted() const { return evicted_; }

  using Listener = std::function<void(const ExchangePtr&)>;
  int subscribe(Listener l);
  void unsubscribe(int id);

  // What the persistence (Recorder with --inspect-db) hears: an exchange dropped past the cap,
  // and clear().
  std::function<void(const ExchangePtr&)> on_evict;
  std::function<void()> on_clear;

 private:
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::uint64_t evicted_ = 0;
  std::deque<ExchangePtr> ring_;
  std::map<int, Listener> listeners_;
  int next_listener_ = 0;
};

}  // namespace porthole::inspect
