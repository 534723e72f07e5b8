#include "engine/day_partitioner.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>

#include <algorithm>
#include <numeric>

namespace kpipe {
namespace {

// Days spanned by one batch up to which rows are counted into a table indexed by day (4 bytes of
// table a day): 65,536 days is 179 years. A wider span (timestamps centuries apart) is sorted.
constexpr int64_t kCountedDays = 1 << 16;

struct DayRun {
  int32_t day;
  int64_t start;  // the day's first position in the order
};

// Fills `order` with the row indices day by day, days ascending, rows in their order within a
// day; returns where each day starts. Counting sort over the span of days.
std::vector<DayRun> order_by_counting(const std::vector<int32_t>& day_of_row, int32_t lo, int64_t span,
                                      std::vector<int64_t>& order) {
  std::vector<int64_t> next(static_cast<size_t>(span) + 1, 0);
  for (int32_t d : day_of_row) ++next[static_cast<size_t>(d - lo) + 1];
  std::vector<DayRun> runs;
  for (int64_t k = 0; k < span; ++k) {
    if (next[k + 1] > 0) runs.push_back(DayRun{static_cast<int32_t>(lo + k), next[k]});
    next[k + 1] += next[k];
  }
  for (size_t i = 0; i < day_of_row.size(); ++i) order[next[day_of_row[i] - lo]++] = static_cast<int64_t>(i);
  return runs;
}

std::vector<DayRun> order_by_sorting(const std::vector<int32_t>& day_of_row, std::vector<int64_t>& order) {
  std::iota(order.begin(), order.end(), int64_t{0});
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return day_of_row[a] < day_of_row[b]; });
  std::vector<DayRun> runs;
  for (size_t k = 0; k < order.size(); ++k) {
    const int32_t d = day_of_row[order[k]];
    if (runs.empty() || runs.back().day != d) runs.push_back(DayRun{d, static_cast<int64_t>(k)});
  }
  return runs;
}

}  // namespace

// One Take of all rows in day order, then a zero-copy slice per day: a batch that spans many
// days (a backfill: 365 days in every batch) costs one gather, not one per day.
Result<std::vector<DayRows>> split_by_day(const std::shared_ptr<arrow::RecordBatch>& rows,
                                          const std::vector<int32_t>& day_of_row) {
  std::vector<DayRows> out;
  if (!rows || rows->num_rows() == 0) return out;
  const int64_t n = rows->num_rows();
  if (static_cast<int64_t>(day_of_row.size()) != n) {
    return Status::fatal("internal: " + std::to_string(day_of_row.size()) + " days for " + std::to_string(n) + " rows");
  }
  const auto [lo, hi] = std::minmax_element(day_of_row.begin(), day_of_row.end());
  if (*lo == *hi) {
    out.push_back(DayRows{*lo, rows});
    return out;
  }
  std::vector<int64_t> order(static_cast<size_t>(n));
  const int64_t span = static_cast<int64_t>(*hi) - *lo + 1;
  const std::vector<DayRun> runs =
      span <= kCountedDays ? order_by_counting(day_of_row, *lo, span, order) : order_by_sorting(day_of_row, order);
  auto indices = std::make_shared<arrow::Int64Array>(n, arrow::Buffer::FromVector(std::move(order)));
  auto taken = arrow::compute::Take(arrow::Datum(rows), arrow::Datum(indices));
  if (!taken.ok()) return Status::retriable("grouping rows by dt: " + taken.status().ToString());
  const std::shared_ptr<arrow::RecordBatch> by_day = taken->record_batch();
  for (size_t k = 0; k < runs.size(); ++k) {
    const int64_t end = k + 1 < runs.size() ? runs[k + 1].start : n;
    out.push_back(DayRows{runs[k].day, by_day->Slice(runs[k].start, end - runs[k].start)});
  }
  return out;
}

}  // namespace kpipe
