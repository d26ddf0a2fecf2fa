#include "agent/backoff.hpp"

#include <gtest/gtest.h>

using porthole::agent::Backoff;
using namespace std::chrono_literals;

TEST(Backoff, FirstRetryWithinOneSecondThenDoublesToTheCap) {
  Backoff b;
  EXPECT_LE(b.next(0.999), 1000ms);
  EXPECT_GE(b.next(0.0), 1000ms);  // second: [1s, 2s)
  EXPECT_LT(b.next(0.999), 4000ms);
  for (int i = 0; i < 20; ++i) (void)b.next(0.5);
  auto d = b.next(0.999);
  EXPECT_LE(d, 30000ms);
  EXPECT_GE(d, 29000ms);
  EXPECT_GE(b.next(0.0), 15000ms);  // jitter keeps at least half
}

TEST(Backoff, ResetAndCap) {
  Backoff b;
  for (int i = 0; i < 5; ++i) (void)b.next(0.5);
  b.reset();
  EXPECT_LE(b.next(0.999), 1000ms);
  b.to_cap();
  EXPECT_GE(b.next(0.0), 15000ms);
}
