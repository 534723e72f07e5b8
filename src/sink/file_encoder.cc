#include <algorithm>
#include <string>

#include "sink/arrow_boundary.h"
#include "sink/encoders.h"

namespace kpipe {

Result<std::shared_ptr<arrow::Buffer>> FileEncoder::encode(const arrow::RecordBatch& rows, int64_t offset,
                                                           int64_t length) const {
  const std::string context = "encoding " + std::string(sink_name());
  if (offset < 0 || length < 0 || offset + length > rows.num_rows()) {
    return Status::fatal(context + ": rows [" + std::to_string(offset) + ", " + std::to_string(offset + length) +
                         ") outside a batch of " + std::to_string(rows.num_rows()));
  }
  KPIPE_RETURN_IF_ERROR(ensure_arrow_compute());
  try {
    KPIPE_ASSIGN_OR_RETURN(auto file, encode_rows(rows, offset, length));
    if (length > 0) {
      // Files encoded at once may both update it; either result is a fine estimate.
      const int64_t per_row = file->size() * kRowBytesScale / length;
      const int64_t before = bytes_per_row_.load(std::memory_order_relaxed);
      bytes_per_row_.store(before == 0 ? per_row : (before * 7 + per_row) / 8, std::memory_order_relaxed);
    }
    return file;
  } catch (const std::exception& e) {
    return from_exception(e, context);
  }
}

int64_t FileEncoder::output_capacity(int64_t rows, int64_t first_guess_per_row) const {
  constexpr int64_t kMostReserved = int64_t{64} << 20;
  const int64_t average = bytes_per_row_.load(std::memory_order_relaxed);
  const int64_t per_row =
      average > 0 ? (average + average / 8 + kRowBytesScale - 1) / kRowBytesScale : first_guess_per_row;
  return 64 * 1024 + std::min(kMostReserved, rows * per_row);
}

}  // namespace kpipe
