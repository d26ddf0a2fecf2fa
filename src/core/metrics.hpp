// Named counters and gauges, rendered in Prometheus text format. Declare each metric once
// (as a function-local static or a member) and bump it; lookups happen at declaration only.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace porthole::metrics {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// Returns the process-wide metric with this name (created on first use; stable address).
// `name` is the full Prometheus name, optionally with labels: porthole_drops_total{reason="x"}.
Counter& counter(std::string_view name, std::string_view help);
Gauge& gauge(std::string_view name, std::string_view help);

// Every metric, in Prometheus text exposition format 0.0.4.
std::string render_prometheus();

}  // namespace porthole::metrics
