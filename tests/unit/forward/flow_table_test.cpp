#include "core/flow_table.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace porthole;
using namespace std::chrono_literals;

namespace {
FlowKey key(std::uint8_t last, std::uint16_t port) {
  FlowKey k;
  k.bytes[15] = last;
  k.bytes[16] = static_cast<std::uint8_t>(port >> 8);
  k.bytes[17] = static_cast<std::uint8_t>(port);
  return k;
}
}  // namespace

TEST(FlowTable, BoundEvictsLeastRecentlyUsed) {
  FlowTable<int> t(3);
  const auto t0 = FlowTable<int>::Clock::time_point{};
  std::vector<int> evicted;
  auto ev = [&](int& v) { evicted.push_back(v); };
  t.insert(key(1, 1), 1, t0, ev);
  t.insert(key(2, 1), 2, t0 + 1s, ev);
  t.insert(key(3, 1), 3, t0 + 2s, ev);
  ASSERT_NE(t.find(key(1, 1), t0 + 3s), nullptr);  // 1 is now the most recent
  t.insert(key(4, 1), 4, t0 + 4s, ev);
  EXPECT_EQ(evicted, std::vector<int>{2});
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.find(key(2, 1), t0 + 5s), nullptr);
  EXPECT_NE(t.find(key(4, 1), t0 + 5s), nullptr);
  EXPECT_EQ(t.find(key(4, 2), t0 + 5s), nullptr) << "the port is part of the key";
  // A flood of new addresses never passes the bound.
  for (int i = 0; i < 1000; ++i) t.insert(key(9, static_cast<std::uint16_t>(i)), 100 + i, t0 + 6s, ev);
  EXPECT_EQ(t.size(), 3u);
}

TEST(FlowTable, IdleFlowsExpire) {
  FlowTable<int> t(10);
  const auto t0 = FlowTable<int>::Clock::time_point{};
  t.insert(key(1, 1), 1, t0, nullptr);
  t.insert(key(2, 1), 2, t0 + 10s, nullptr);
  t.insert(key(3, 1), 3, t0 + 20s, nullptr);
  (void)t.find(key(1, 1), t0 + 25s);
  std::vector<int> gone;
  EXPECT_EQ(t.expire(t0 + 71s, 60s, [&](int& v) { gone.push_back(v); }), 1u);
  EXPECT_EQ(gone, std::vector<int>{2});
  EXPECT_EQ(t.expire(t0 + 85s, 60s, [&](int& v) { gone.push_back(v); }), 2u);
  EXPECT_EQ(t.size(), 0u);
  t.insert(key(5, 5), 5, t0, nullptr);
  t.erase(key(5, 5));
  EXPECT_EQ(t.size(), 0u);
}
