#include <arrow/memory_pool.h>

#include <cstdlib>
#include <string>

#include "sink/encoders.h"

namespace kpipe {

std::string select_arrow_memory_pool() {
  // Arrow reads ARROW_DEFAULT_MEMORY_POOL once, at the first default_memory_pool() call; the
  // pyarrow wheel's default is mimalloc, which kept 40-60 MB more resident than jemalloc or the
  // system allocator at the same speed (bench/results/PROFILE.md, "Memory").
  //
  // The system's (glibc malloc) rather than Arrow's jemalloc: jemalloc as Arrow configures it
  // gives freed pages back to the kernel within a second, so between two triggers of 30 s every
  // batch's buffers went back and the next batch faulted them in again (about 1,000 page faults
  // a batch on the job thread alone at 1,000 events/s); jemalloc reads its settings before
  // main() and Arrow can change them only for arenas made later, never the main thread's.
  // glibc keeps freed memory below its (adaptive) trim threshold. Measured side by side: the
  // steady state at 1,000 events/s 1.73 against 2.22 CPU-s per million events, at 10,000 the
  // same; drains of 5,000,000 events as fast, 5-9 MB less peak RSS. A value the user set wins.
  ::setenv("ARROW_DEFAULT_MEMORY_POOL", "system", 0);
  return arrow::default_memory_pool()->backend_name();
}

}  // namespace kpipe
