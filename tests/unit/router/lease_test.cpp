// Lease scheduling and router-restart detection: pure functions, no clocks read, no sleeps.
#include <gtest/gtest.h>

#include "router/router.hpp"

using namespace porthole::router;
using std::chrono::seconds;

namespace {
const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1000);
}

TEST(Lease, RenewsAtHalfLife) {
  LeaseState s{t0, 3600, 10};
  EXPECT_EQ(next_renewal(s), t0 + seconds(1800));
  s.lifetime_seconds = 3;
  EXPECT_EQ(next_renewal(s), t0 + seconds(1));
  s.lifetime_seconds = 1;  // never sooner than 1 s
  EXPECT_EQ(next_renewal(s), t0 + seconds(1));
}

TEST(Lease, PermanentLeaseIsRechecked) {
  LeaseState s{t0, 0, std::nullopt};
  EXPECT_EQ(next_renewal(s, 60), t0 + seconds(60));
  EXPECT_EQ(next_renewal(s, 0), t0 + seconds(1));
}

TEST(Lease, EpochGoingBackwardsMeansRestart) {
  EXPECT_TRUE(router_restarted(1000, t0, 5, t0 + seconds(10)));
  EXPECT_TRUE(router_restarted(1000, t0, 998, t0 + seconds(1)));
}

TEST(Lease, SmallJitterIsNotARestart) {
  EXPECT_FALSE(router_restarted(1000, t0, 999, t0));           // one second back: tolerated
  EXPECT_FALSE(router_restarted(1000, t0, 1000, t0 + seconds(1)));
  EXPECT_FALSE(router_restarted(1000, t0, 1060, t0 + seconds(60)));
  EXPECT_FALSE(router_restarted(1000, t0, 1058, t0 + seconds(60)));  // slightly slow clock
}

TEST(Lease, EpochAdvancingTooLittleMeansRestart) {
  // 600 s passed here, but the router's epoch moved only 30 s: it restarted in between.
  EXPECT_TRUE(router_restarted(1000, t0, 1030, t0 + seconds(600)));
}

TEST(Lease, EpochAdvancingFarTooMuchMeansRestart) {
  EXPECT_TRUE(router_restarted(1000, t0, 5000, t0 + seconds(60)));
}

TEST(Lease, RetryBackoffGrowsAndCaps) {
  EXPECT_EQ(retry_backoff(0), seconds(1));
  EXPECT_EQ(retry_backoff(1), seconds(1));
  EXPECT_EQ(retry_backoff(2), seconds(2));
  EXPECT_EQ(retry_backoff(3), seconds(4));
  EXPECT_EQ(retry_backoff(5), seconds(16));
  EXPECT_EQ(retry_backoff(6), seconds(30));
  EXPECT_EQ(retry_backoff(100), seconds(30));
}
