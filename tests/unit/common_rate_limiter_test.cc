#include "common/rate_limiter.h"

#include <vector>

#include <gtest/gtest.h>

namespace kpipe {
namespace {

using namespace std::chrono_literals;
using std::chrono::nanoseconds;

// Sends as the producer does: take what is due, sleep until the next one, until `run_for` ends.
std::vector<Clock::TimePoint> run(RateLimiter& limiter, FakeClock& clock, nanoseconds run_for) {
  std::vector<Clock::TimePoint> sent;
  const auto end = clock.now() + run_for;
  while (clock.now() < end) {
    int64_t n = limiter.take_due(1'000'000);
    for (int64_t i = 0; i < n; ++i) sent.push_back(clock.now());
    if (n == 0) clock.sleep_until(limiter.next_due());
  }
  return sent;
}

TEST(RateLimiter, TwoHundredPerSecondForFiveSecondsIsOneThousandEvenlySpaced) {
  FakeClock clock;
  RateLimiter limiter(200, clock);
  auto sent = run(limiter, clock, 5s);
  EXPECT_NEAR(static_cast<double>(sent.size()), 1000, 1);
  for (size_t i = 1; i < sent.size(); ++i) {
    ASSERT_EQ(sent[i] - sent[i - 1], nanoseconds(5ms)) << "message " << i << " is not 5 ms after the one before";
  }
  EXPECT_EQ(limiter.granted(), static_cast<int64_t>(sent.size()));
}

TEST(RateLimiter, EachSecondGetsItsShareNotOneBurst) {
  FakeClock clock;
  const auto start = clock.now();
  RateLimiter limiter(1000, clock);
  auto sent = run(limiter, clock, 3s);
  // Every 100 ms window of the run holds 100 messages.
  std::vector<int> per_window(30, 0);
  for (auto t : sent) per_window[static_cast<size_t>((t - start) / 100ms)]++;
  for (size_t w = 0; w < per_window.size(); ++w) EXPECT_EQ(per_window[w], 100) << "window " << w;
}

TEST(RateLimiter, CoarseWakeUpsSendTheirShareEachTime) {
  // A caller that can only wake every millisecond still spreads 5000/s as 5 per millisecond.
  FakeClock clock;
  RateLimiter limiter(5000, clock);
  EXPECT_EQ(limiter.take_due(1000), 1);  // message 0 is due at once
  int64_t total = 1;
  for (int ms = 1; ms <= 1000; ++ms) {
    clock.advance(1ms);
    int64_t n = limiter.take_due(1000);
    EXPECT_EQ(n, 5) << "at " << ms << " ms";
    total += n;
  }
  EXPECT_EQ(total, 5001);  // messages at 0, 0.2, ..., 1000.0 ms
}

TEST(RateLimiter, NoDriftOverALongRunWithAnAwkwardRate) {
  FakeClock clock;
  RateLimiter limiter(3, clock);  // 333.33… ms apart: rounding must not accumulate
  auto sent = run(limiter, clock, 3600s);
  EXPECT_EQ(sent.size(), 3u * 3600u);
}

TEST(RateLimiter, FractionalRate) {
  FakeClock clock;
  RateLimiter limiter(0.5, clock);
  auto sent = run(limiter, clock, 10s);
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[1] - sent[0], nanoseconds(2s));
}

TEST(RateLimiter, MaxCapsOneGrant) {
  FakeClock clock;
  RateLimiter limiter(1000, clock);
  clock.advance(500ms);
  EXPECT_EQ(limiter.take_due(100), 100);
  EXPECT_EQ(limiter.take_due(1000), 401);
  EXPECT_EQ(limiter.take_due(1000), 0);
  EXPECT_EQ(limiter.take_due(0), 0);
}

TEST(RateLimiter, AStallDoesNotReleaseTheWholeBacklog) {
  FakeClock clock;
  RateLimiter limiter(100, clock, 1s);
  EXPECT_EQ(limiter.take_due(1'000'000), 1);
  clock.advance(60s);  // e.g. the process was stopped with SIGSTOP
  int64_t after_stall = limiter.take_due(1'000'000);
  EXPECT_LE(after_stall, 101);  // at most max_lag's worth, not 6000
  // And then the steady rate again.
  clock.advance(1s);
  EXPECT_NEAR(static_cast<double>(limiter.take_due(1'000'000)), 100, 1);
}

TEST(RateLimiter, ZeroMeansUnlimited) {
  FakeClock clock;
  RateLimiter limiter(0, clock);
  EXPECT_EQ(limiter.take_due(12345), 12345);
  EXPECT_EQ(limiter.take_due(7), 7);
  EXPECT_EQ(limiter.next_due(), clock.now());
  EXPECT_EQ(limiter.granted(), 12352);
}

TEST(RateLimiter, NextDueIsTheScheduledTime) {
  FakeClock clock;
  const auto start = clock.now();
  RateLimiter limiter(4, clock);
  EXPECT_EQ(limiter.next_due(), start);
  EXPECT_EQ(limiter.take_due(10), 1);
  EXPECT_EQ(limiter.next_due(), start + 250ms);
  clock.advance(249ms);
  EXPECT_EQ(limiter.take_due(10), 0);
  clock.advance(1ms);
  EXPECT_EQ(limiter.take_due(10), 1);
}

TEST(RateLimiter, RealClockSmoke) {
  SteadyClock clock;
  RateLimiter limiter(1000, clock);
  const auto end = clock.now() + 200ms;
  int64_t sent = 0;
  while (clock.now() < end) {
    sent += limiter.take_due(1000);
    clock.sleep_until(std::min(limiter.next_due(), end));
  }
  EXPECT_NEAR(static_cast<double>(sent), 200, 20);
}

}  // namespace
}  // namespace kpipe
