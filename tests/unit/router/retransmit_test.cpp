// Retransmit: the PCP client's send/wait schedule (sans-I/O, driven by a simulated clock).
#include <gtest/gtest.h>

#include "router/retransmit.hpp"

using porthole::router::Retransmit;
using namespace std::chrono_literals;

namespace {

const Retransmit::Clock::time_point t0{std::chrono::hours(1000)};

TEST(Retransmit, FirstSendAtOnceThenDoublingUntilTheDeadline) {
  Retransmit rt(t0, 2000ms);
  EXPECT_TRUE(rt.send_due(t0));
  EXPECT_FALSE(rt.send_due(t0));
  EXPECT_EQ(rt.wait_ms(t0), 250);
  EXPECT_FALSE(rt.send_due(t0 + 249ms));
  EXPECT_TRUE(rt.send_due(t0 + 250ms));  // next after 500 ms more
  EXPECT_EQ(rt.wait_ms(t0 + 250ms), 500);
  EXPECT_TRUE(rt.send_due(t0 + 750ms));  // next after 1000 ms more
  EXPECT_EQ(rt.wait_ms(t0 + 750ms), 1000);
  EXPECT_TRUE(rt.send_due(t0 + 1750ms));    // next after 2000 ms more: past the deadline
  EXPECT_EQ(rt.wait_ms(t0 + 1750ms), 250);  // the deadline, not the next send
  EXPECT_FALSE(rt.send_due(t0 + 1999ms));
  EXPECT_TRUE(rt.expired(t0 + 2000ms));
  EXPECT_FALSE(rt.send_due(t0 + 2000ms));
  EXPECT_EQ(rt.wait_ms(t0 + 2000ms), 0);
  EXPECT_EQ(rt.sends(), 4);
}

// The old loop truncated the wait to whole milliseconds: in the last fraction of a millisecond
// before the deadline it waited 0 ms and resent on every pass, doubling its interval each time
// until the time arithmetic overflowed and poll(2) was asked to wait ~24 days.
TEST(Retransmit, SubMillisecondRemainderWaitsOneMillisecondAndDoesNotResend) {
  Retransmit rt(t0, 800ms);
  ASSERT_TRUE(rt.send_due(t0));
  ASSERT_TRUE(rt.send_due(t0 + 250ms));
  ASSERT_TRUE(rt.send_due(t0 + 750ms));
  auto late = rt.deadline() - 300us;
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(rt.send_due(late));
    EXPECT_EQ(rt.wait_ms(late), 1);
  }
  EXPECT_EQ(rt.sends(), 3);
}

// Drive it like the client does, with a wake-up (a hostile reply) at every odd microsecond
// offset: the number of sends stays small and every wait is bounded by the timeout.
TEST(Retransmit, HostileWakeupsNeverCauseExtraSendsOrLongWaits) {
  for (auto timeout : {100ms, 800ms, 2000ms, 60000ms}) {
    Retransmit rt(t0, timeout);
    auto now = t0;
    int passes = 0;
    while (!rt.expired(now)) {
      rt.send_due(now);
      int w = rt.wait_ms(now);
      ASSERT_GE(w, 1);
      ASSERT_LE(std::chrono::milliseconds(w), timeout);
      // A reply arrives 0.7 ms into the wait, or the wait times out.
      now += std::min<std::chrono::microseconds>(700us, std::chrono::milliseconds(w));
      ASSERT_LT(++passes, 200000);
    }
    EXPECT_LE(rt.sends(), 2 + static_cast<int>(timeout / 4000ms) + 5) << timeout.count();
  }
}

TEST(Retransmit, IntervalIsCappedSoLongTimeoutsKeepAsking) {
  Retransmit rt(t0, 60000ms);
  auto now = t0;
  while (!rt.expired(now)) {
    rt.send_due(now);
    now += std::chrono::milliseconds(rt.wait_ms(now));
  }
  // 0, .25, .75, 1.75, 3.75, 7.75 s, then every 4 s up to 60 s.
  EXPECT_EQ(rt.sends(), 6 + 13);
}

}  // namespace
