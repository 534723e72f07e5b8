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
    return encode_rows(rows, offset, length);
  } catch (const std::exception& e) {
    return from_exception(e, context);
  }
}

}  // namespace kpipe
