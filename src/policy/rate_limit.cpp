#include "policy/rate_limit.hpp"

#include <algorithm>

namespace porthole::policy {

RateLimiter::RateLimiter(std::uint32_t limit, std::int64_t window_ms, Key key, std::string header,
                         std::size_t max_keys)
    : limit_(limit), window_ms_(std::max<std::int64_t>(window_ms, 1)), key_(key), header_(std::move(header)),
      max_keys_(std::max<std::size_t>(max_keys, 1)) {}

std::int64_t RateLimiter::hit(std::string_view key, std::int64_t now_ms) {
  auto it = map_.find(std::string(key));
  if (it == map_.end()) {
    if (map_.size() >= max_keys_) {
      map_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.emplace_front(key);
    it = map_.emplace(lru_.front(), Slot{}).first;
    it->second.start = now_ms - (now_ms % window_ms_);
    it->second.lru = lru_.begin();
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  auto& s = it->second;
  // Move the window forward to the one that holds `now_ms`.
  if (now_ms >= s.start + window_ms_) {
    const auto windows = (now_ms - s.start) / window_ms_;
    s.prev = windows == 1 ? s.cur : 0;
    s.cur = 0;
    s.start += windows * window_ms_;
  }
  const auto into = now_ms - s.start;  // 0 .. window-1
  const double weight = static_cast<double>(window_ms_ - into) / static_cast<double>(window_ms_);
  const double estimate = s.prev * weight + s.cur;
  if (estimate + 1 <= limit_) {
    ++s.cur;
    return 0;
  }
  // When would one more fit? Either the previous window's weight decays enough within this
  // window, or (if this window alone is full) at the next window plus its decay.
  if (s.cur + 1 <= limit_ && s.prev > 0) {
    // prev * (W - t) / W + cur + 1 <= limit  =>  t >= W - (limit - cur - 1) * W / prev
    const double t = window_ms_ - (static_cast<double>(limit_ - s.cur - 1) * window_ms_) / s.prev;
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(t) + 1 - into);
  }
  // Next window: cur becomes prev; need cur * (W - t) / W + 1 <= limit.
  const double t = s.cur == 0 ? 0.0 : window_ms_ - (static_cast<double>(limit_ - 1) * window_ms_) / s.cur;
  return std::max<std::int64_t>(1, (window_ms_ - into) + std::max<std::int64_t>(0, static_cast<std::int64_t>(t) + 1));
}

}  // namespace porthole::policy
