// Paces messages at a steady rate, spread over the second rather than one burst per second.
//
// Message k (counting from 0) is due at start + k / rate. take_due() hands out every message
// that is due by now, so a caller that wakes up every millisecond sends rate/1000 messages per
// wake-up, and one that is late catches up; the schedule is absolute, so rounding never drifts
// (200/s over 5 s is 1000 messages, not 995). After a stall longer than `max_lag` (a paused
// process, a full producer queue) the schedule restarts from now instead of releasing the whole
// backlog at once, because a flood after a pause is exactly what a rate limit should prevent.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/clock.h"

namespace kpipe {

class RateLimiter {
 public:
  // rate: messages per second; 0 = unlimited (take_due always grants everything asked for).
  explicit RateLimiter(double rate, const Clock& clock, std::chrono::nanoseconds max_lag = std::chrono::seconds(1));

  // Grants up to `max` messages that are due by now (0 when the next one is not due yet).
  int64_t take_due(int64_t max);

  // When the next message becomes due; now() or earlier when one is due already.
  Clock::TimePoint next_due() const;

  double rate() const { return rate_; }
  int64_t granted() const { return granted_before_ + granted_; }  // in total, for reports

 private:
  Clock::TimePoint due_time(int64_t index) const;

  double rate_;
  const Clock& clock_;
  std::chrono::nanoseconds max_lag_;
  Clock::TimePoint start_;
  int64_t granted_ = 0;         // messages handed out since start_ (the schedule's index)
  int64_t granted_before_ = 0;  // messages handed out before the schedule last restarted
};

}  // namespace kpipe
