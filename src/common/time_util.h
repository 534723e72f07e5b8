// Wall-clock time, defined once: milliseconds since the Unix epoch, for what people read (entry
// times, progress lines, the status page). Durations and deadlines use steady_clock instead
// (common/clock.h), which never jumps.
#pragma once

#include <chrono>
#include <cstdint>

namespace kpipe {

inline int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace kpipe
