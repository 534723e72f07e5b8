#include "sink/arrow_boundary.h"

#include <new>
#include <string>

#if defined(KPIPE_ARROW_COMPUTE_SPLIT) && KPIPE_ARROW_COMPUTE_SPLIT
#include <arrow/compute/initialize.h>
#endif

namespace kpipe {

Status from_arrow(const arrow::Status& status, std::string_view context) {
  if (status.ok()) return Status::success();
  std::string msg = std::string(context) + ": " + status.ToString();
  if (status.IsOutOfMemory() || status.IsIOError()) return Status::retriable(std::move(msg));
  return Status::fatal(std::move(msg));
}

Status from_exception(const std::exception& e, std::string_view context) {
  std::string msg = std::string(context) + ": " + e.what();
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return Status::retriable(std::move(msg));
  return Status::fatal(std::move(msg));
}

Status ensure_arrow_compute() {
#if defined(KPIPE_ARROW_COMPUTE_SPLIT) && KPIPE_ARROW_COMPUTE_SPLIT
  static const arrow::Status result = arrow::compute::Initialize();
  return from_arrow(result, "registering Arrow compute kernels");
#else
  // Before Arrow 21 the kernels were part of libarrow and registered themselves.
  return Status::success();
#endif
}

}  // namespace kpipe
