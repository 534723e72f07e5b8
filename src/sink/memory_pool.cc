#include <arrow/memory_pool.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "sink/encoders.h"

namespace kpipe {

std::string select_arrow_memory_pool() {
  // Arrow reads ARROW_DEFAULT_MEMORY_POOL once, at the first default_memory_pool() call; the
  // pyarrow wheel's default is mimalloc. Measured on 5M events with the default settings
  // (bench/results/PROFILE.md), mimalloc kept 40-60 MB more resident than jemalloc or the system
  // allocator at the same speed. A value the user set wins.
  if (std::getenv("ARROW_DEFAULT_MEMORY_POOL") == nullptr) {
    const auto names = arrow::SupportedMemoryBackendNames();
    const bool has_jemalloc = std::find(names.begin(), names.end(), "jemalloc") != names.end();
    ::setenv("ARROW_DEFAULT_MEMORY_POOL", has_jemalloc ? "jemalloc" : "system", 0);
  }
  return arrow::default_memory_pool()->backend_name();
}

}  // namespace kpipe
