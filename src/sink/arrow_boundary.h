// The one place where Arrow's and Parquet's error reporting (arrow::Status, ParquetException,
// std::bad_alloc) becomes kpipe's Status. Used by the sink and the Delta log (src/delta).
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <exception>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace kpipe {

// Out of memory and I/O errors are retriable (the next attempt may fit or succeed); anything
// else from Arrow means data it cannot encode, which will fail the same way again: fatal.
Status from_arrow(const arrow::Status& status, std::string_view context);

template <typename T>
Result<T> from_arrow(arrow::Result<T> result, std::string_view context) {
  if (!result.ok()) return from_arrow(result.status(), context);
  return std::move(result).ValueOrDie();
}

// For exceptions that escaped Arrow (ParquetException derives from std::exception).
Status from_exception(const std::exception& e, std::string_view context);

// Registers Arrow's compute kernels once per process (Arrow >= 21 needs it before any cast);
// cheap after the first call, safe from any thread.
Status ensure_arrow_compute();

}  // namespace kpipe
