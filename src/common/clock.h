// A seam for time, so pacing and timeouts can be tested with a fake clock instead of sleeping.
#pragma once

#include <chrono>
#include <thread>

#include "common/wakeup.h"

namespace kpipe {

class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  virtual void sleep_until(TimePoint t) = 0;
  // Until `t` or, for the real clock, `wakeup` being notified (see wakeup.h).
  virtual void wait_until(TimePoint t, Wakeup& wakeup) {
    (void)wakeup;
    sleep_until(t);
  }
};

// The real monotonic clock (never jumps with NTP or a changed wall clock).
class SteadyClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  void sleep_until(TimePoint t) override { std::this_thread::sleep_until(t); }
  void wait_until(TimePoint t, Wakeup& wakeup) override { wakeup.wait_until(t); }
};

// Time stands still until a test advances it; sleeping advances it to the wake-up time.
class FakeClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  void sleep_until(TimePoint t) override {
    if (t > now_) now_ = t;
  }
  void advance(std::chrono::nanoseconds d) { now_ += d; }

 private:
  TimePoint now_{std::chrono::seconds(1000)};
};

}  // namespace kpipe
