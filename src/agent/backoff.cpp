#include "agent/backoff.hpp"

#include <algorithm>

namespace porthole::agent {

std::chrono::milliseconds Backoff::next(double random01) {
  const double base = static_cast<double>(first_.count());
  double d = base;
  for (int i = 0; i < attempt_ && d < static_cast<double>(cap_.count()); ++i) d *= 2;
  d = std::min(d, static_cast<double>(cap_.count()));
  attempt_ = std::min(attempt_ + 1, 63);
  const double r = std::clamp(random01, 0.0, 0.999999);
  return std::chrono::milliseconds(static_cast<std::int64_t>(d * (0.5 + r / 2)));
}

}  // namespace porthole::agent
