// Splits a decoded batch by dt (the UTC date of PARTITION_FROM) for the file sinks.
#pragma once

#include <arrow/record_batch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "common/status.h"

namespace kpipe {

struct DayRows {
  int32_t day = 0;  // days since 1970-01-01
  std::shared_ptr<arrow::RecordBatch> rows;
};

// Groups rows by day, days ascending, keeping the rows' order within a day. A batch of one
// day (the common case) is returned without copying.
Result<std::vector<DayRows>> split_by_day(const std::shared_ptr<arrow::RecordBatch>& rows,
                                          const std::vector<int32_t>& day_of_row);

}  // namespace kpipe
