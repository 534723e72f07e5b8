#include "engine/day_partitioner.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>

#include <algorithm>
#include <map>

namespace kpipe {

Result<std::vector<DayRows>> split_by_day(const std::shared_ptr<arrow::RecordBatch>& rows,
                                          const std::vector<int32_t>& day_of_row) {
  std::vector<DayRows> out;
  if (!rows || rows->num_rows() == 0) return out;
  if (static_cast<int64_t>(day_of_row.size()) != rows->num_rows()) {
    return Status::fatal("internal: " + std::to_string(day_of_row.size()) + " days for " +
                         std::to_string(rows->num_rows()) + " rows");
  }
  const int32_t first = day_of_row.front();
  if (std::all_of(day_of_row.begin(), day_of_row.end(), [first](int32_t d) { return d == first; })) {
    out.push_back(DayRows{first, rows});
    return out;
  }
  std::map<int32_t, std::vector<int64_t>> by_day;
  for (size_t i = 0; i < day_of_row.size(); ++i) by_day[day_of_row[i]].push_back(static_cast<int64_t>(i));
  for (auto& [day, idx] : by_day) {
    arrow::Int64Builder b;
    std::shared_ptr<arrow::Array> indices;
    auto st = b.AppendValues(idx);
    if (st.ok()) st = b.Finish(&indices);
    if (!st.ok()) return Status::retriable("grouping rows by dt: " + st.ToString());
    auto taken = arrow::compute::Take(arrow::Datum(rows), arrow::Datum(indices));
    if (!taken.ok()) return Status::retriable("grouping rows by dt: " + taken.status().ToString());
    out.push_back(DayRows{day, taken->record_batch()});
  }
  return out;
}

}  // namespace kpipe
