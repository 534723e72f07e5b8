#include "common/wakeup.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace kpipe {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

TEST(Wakeup, AWaitLastsUntilItsDeadlineUnlessNotified) {
  Wakeup w;
  ASSERT_TRUE(w.valid());
  const auto start = steady_clock::now();
  w.wait_until(start + milliseconds(150));
  EXPECT_GE(steady_clock::now() - start, milliseconds(150));
}

TEST(Wakeup, ANotifyBeforeTheWaitEndsItAtOnceAndOnlyThatWait) {
  Wakeup w;
  w.notify();
  w.notify();  // two before a wait end that one wait
  auto start = steady_clock::now();
  w.wait_until(start + std::chrono::seconds(10));
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
  start = steady_clock::now();
  w.wait_until(start + milliseconds(100));
  EXPECT_GE(steady_clock::now() - start, milliseconds(100));
}

TEST(Wakeup, ANotifyFromAnotherThreadEndsAWait) {
  Wakeup w;
  const auto start = steady_clock::now();
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(100));
    w.notify();
  });
  w.wait_until(start + std::chrono::seconds(10));
  const auto took = steady_clock::now() - start;
  other.join();
  EXPECT_GE(took, milliseconds(100));
  EXPECT_LT(took, std::chrono::seconds(3));
}

}  // namespace
}  // namespace kpipe
