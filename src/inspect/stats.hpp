// Per-tunnel metrics in the shape ngrok's agent API reports them (go-metrics' Meter and
// Timer): a count, exponentially weighted rates over 1, 5 and 15 minutes (per second, ticked
// every 5 s) and duration percentiles (nanoseconds) over the last kSamples observations.
// Pure: the time is passed in, so tests need no clock.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <vector>

namespace porthole::inspect {

using Clock = std::chrono::steady_clock;

class Meter {
 public:
  void mark(Clock::time_point now, std::uint64_t n = 1);
  std::uint64_t count() const { return count_; }
  // Rates per second; `now` advances the ticks first.
  double rate1(Clock::time_point now) { tick_to(now); return rates_[0]; }
  double rate5(Clock::time_point now) { tick_to(now); return rates_[1]; }
  double rate15(Clock::time_point now) { tick_to(now); return rates_[2]; }

  static constexpr auto kTick = std::chrono::seconds(5);

 private:
  void tick_to(Clock::time_point now);
  std::uint64_t count_ = 0;
  std::uint64_t uncounted_ = 0;  // marks since the last tick
  std::array<double, 3> rates_{};
  bool started_ = false;  // the first tick sets the rate at once (go-metrics does)
  Clock::time_point last_tick_{};
};

class Timer {
 public:
  static constexpr std::size_t kSamples = 1028;
  void record(Clock::time_point now, std::chrono::nanoseconds d);
  Meter& meter() { return meter_; }
  // The q-quantile (0..1) of the kept samples, nanoseconds; 0 with no samples.
  double percentile(double q) const;

 private:
  Meter meter_;
  std::vector<std::int64_t> samples_;  // a ring of the last kSamples
  std::size_t next_ = 0;
};

struct StatsSnapshot {
  std::uint64_t count = 0;
  std::int64_t gauge = 0;
  double rate1 = 0, rate5 = 0, rate15 = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;  // nanoseconds
};

StatsSnapshot snapshot(Timer& t, Clock::time_point now, std::int64_t gauge = 0);

// What the agent API shows per tunnel: connections (streams from the relay) and HTTP exchanges.
struct TunnelStats {
  Timer conns;
  std::int64_t conns_open = 0;
  Timer http;
};

}  // namespace porthole::inspect
