// Ends a wait early from another thread or from a signal handler.
//
// `kpipe stream` waits up to TRIGGER_SECONDS between batches. Waking every 100 ms to look at its
// stop flag cost about a tenth of its CPU at 1,000 events/s; with a Wakeup the signal handler
// ends the wait at once instead (bench/results/PROFILE.md, "Steady state").
#pragma once

#include <chrono>

namespace kpipe {

class Wakeup {
 public:
  Wakeup();  // an eventfd; without one (valid() false) waits just sleep
  ~Wakeup();
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;

  bool valid() const { return fd_ >= 0; }
  // Ends the current or the next wait. Async-signal-safe: one write(2).
  void notify();
  // Until `deadline` or a notify(), whichever comes first; a notify() consumed here does not end
  // a later wait.
  void wait_until(std::chrono::steady_clock::time_point deadline);

 private:
  int fd_ = -1;
};

}  // namespace kpipe
