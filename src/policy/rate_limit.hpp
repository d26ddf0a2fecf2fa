// Sliding-window rate limits (the "sliding window counter": this window's count plus the
// previous window's, weighted by how much of it still overlaps). Keys are client IPs, a header's
// value or an identity; at most `max_keys` are kept (the least recently seen is forgotten first),
// so memory stays bounded whatever visitors send. Pure: the caller passes the time.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

namespace porthole::policy {

class RateLimiter {
 public:
  enum class Key { ip, header, identity };
  RateLimiter(std::uint32_t limit, std::int64_t window_ms, Key key, std::string header = {},
              std::size_t max_keys = 16384);

  // Counts one event for `key` at `now_ms`; 0 when within the limit, else the milliseconds to
  // wait before one more would be allowed (the event is then not counted).
  std::int64_t hit(std::string_view key, std::int64_t now_ms);

  std::uint32_t limit() const { return limit_; }
  std::int64_t window_ms() const { return window_ms_; }
  Key key() const { return key_; }
  const std::string& header() const { return header_; }
  std::size_t size() const { return map_.size(); }

 private:
  struct Slot {
    std::int64_t start = 0;  // this window's start
    std::uint32_t prev = 0, cur = 0;
    std::list<std::string>::iterator lru;
  };
  std::uint32_t limit_;
  std::int64_t window_ms_;
  Key key_;
  std::string header_;
  std::size_t max_keys_;
  std::unordered_map<std::string, Slot> map_;
  std::list<std::string> lru_;  // front = most recent
};

}  // namespace porthole::policy
