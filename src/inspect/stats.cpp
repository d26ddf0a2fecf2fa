#include "inspect/stats.hpp"

#include <algorithm>
#include <cmath>

namespace porthole::inspect {

namespace {
// go-metrics' alphas: 1 - exp(-tick / window) with a 5 s tick.
const std::array<double, 3> kAlpha = {1 - std::exp(-5.0 / 60.0), 1 - std::exp(-5.0 / 300.0),
                                      1 - std::exp(-5.0 / 900.0)};
constexpr std::int64_t kMaxCatchUp = 1000;  // ticks; after ~80 idle minutes every rate is ~0
}  // namespace

void Meter::mark(Clock::time_point now, std::uint64_t n) {
  tick_to(now);
  count_ += n;
  uncounted_ += n;
}

void Meter::tick_to(Clock::time_point now) {
  if (last_tick_ == Clock::time_point{}) {
    last_tick_ = now;
    return;
  }
  auto ticks = (now - last_tick_) / kTick;
  if (ticks <= 0) return;
  last_tick_ += ticks * kTick;
  if (ticks > kMaxCatchUp) {
    rates_ = {};
    uncounted_ = 0;
    started_ = true;
    return;
  }
  for (std::int64_t i = 0; i < ticks; ++i) {
    const double instant = static_cast<double>(uncounted_) / 5.0;
    uncounted_ = 0;
    for (std::size_t k = 0; k < rates_.size(); ++k) {
      rates_[k] = started_ ? rates_[k] + kAlpha[k] * (instant - rates_[k]) : instant;
    }
    started_ = true;
  }
}

void Timer::record(Clock::time_point now, std::chrono::nanoseconds d) {
  meter_.mark(now);
  if (samples_.size() < kSamples) {
    samples_.push_back(d.count());
  } else {
    samples_[next_] = d.count();
    next_ = (next_ + 1) % kSamples;
  }
}

double Timer::percentile(double q) const {
  if (samples_.empty()) return 0;
  std::vector<std::int64_t> s = samples_;
  std::sort(s.begin(), s.end());
  // go-metrics' interpolation: position q * (n + 1), 1-based.
  const double pos = q * static_cast<double>(s.size() + 1);
  if (pos < 1) return static_cast<double>(s.front());
  if (pos >= static_cast<double>(s.size())) return static_cast<double>(s.back());
  const auto lo = static_cast<std::size_t>(pos) - 1;
  const double frac = pos - std::floor(pos);
  return static_cast<double>(s[lo]) + frac * static_cast<double>(s[lo + 1] - s[lo]);
}

StatsSnapshot snapshot(Timer& t, Clock::time_point now, std::int64_t gauge) {
  StatsSnapshot s;
  s.count = t.meter().count();
  s.gauge = gauge;
  s.rate1 = t.meter().rate1(now);
  s.rate5 = t.meter().rate5(now);
  s.rate15 = t.meter().rate15(now);
  s.p50 = t.percentile(0.50);
  s.p90 = t.percentile(0.90);
  s.p95 = t.percentile(0.95);
  s.p99 = t.percentile(0.99);
  return s;
}

}  // namespace porthole::inspect
