#include "common/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace kpipe {

RateLimiter::RateLimiter(double rate, const Clock& clock, std::chrono::nanoseconds max_lag)
    : rate_(rate), clock_(clock), max_lag_(max_lag), start_(clock.now()) {}

Clock::TimePoint RateLimiter::due_time(int64_t index) const {
  // Capped at ~30 years so a tiny rate cannot overflow the nanosecond count.
  const double ns = std::min(std::ceil(static_cast<double>(index) * 1e9 / rate_), 1e18);
  return start_ + std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

int64_t RateLimiter::take_due(int64_t max) {
  if (max <= 0) return 0;
  if (rate_ <= 0) {
    granted_ += max;
    return max;
  }
  const Clock::TimePoint now = clock_.now();
  if (now - due_time(granted_) > max_lag_) {
    granted_before_ += granted_;
    granted_ = 0;
    start_ = now;
  }
  const double elapsed_s = std::chrono::duration<double>(now - start_).count();
  // Messages 0..floor(elapsed * rate) are due; the +1e-9 forgives the rounding of due_time().
  const int64_t due_total = static_cast<int64_t>(std::floor(elapsed_s * rate_ + 1e-9)) + 1;
  const int64_t n = std::clamp<int64_t>(due_total - granted_, 0, max);
  granted_ += n;
  return n;
}

Clock::TimePoint RateLimiter::next_due() const {
  if (rate_ <= 0) return clock_.now();
  return due_time(granted_);
}

}  // namespace kpipe
