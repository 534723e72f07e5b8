// Day-completeness markers (DT_COMPLETE_AFTER): when is dt=D final, so that a scheduler (an
// Airflow sensor, a Hive partition registration) may read it?
//
// The rule, per batch, decided at plan time from what the checkpoint and the batch say:
//   - each Kafka partition has an event-time watermark: the largest PARTITION_FROM value it has
//     committed (this batch's rows included), kept in the write-ahead entry so a restart knows it;
//   - a partition is idle when the plan read everything it has (caught up to its high watermark)
//     and the wall clock is past the day's end plus the lateness: what it sends from now on
//     carries a later time anyway (Flink's idle sources, with the clock as the timeout);
//   - day D is complete when every partition has a watermark at or past end(D) + lateness, or is
//     idle for D. Completion is monotone, so one number holds it: every day up to
//     `complete_through` is complete.
// A day gets its marker (dt=D/_SUCCESS) in the first batch where it holds this query's output and
// is complete. Rows of a day that was complete before the batch are late: written as any row,
// and counted. A late day whose marker is missing (it had no output when it completed) gets it in
// that batch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <arrow/array.h>

namespace kpipe {

inline constexpr int64_t kMicrosPerDay = int64_t{86400} * 1000 * 1000;
inline constexpr const char* kDayMarkerName = "_SUCCESS";

// What the checkpoint knows after a batch.
struct DayState {
  std::map<int32_t, int64_t> watermarks_us;  // partition → largest event time committed (µs since epoch)
  std::optional<int32_t> complete_through;   // every day up to this one (days since 1970-01-01) is complete
  std::vector<int32_t> open_days;            // days past complete_through that hold output, ascending
  bool operator==(const DayState&) const = default;
};

// The days part of a write-ahead entry: the state after the batch and what the batch marks.
struct DayPlan {
  DayState after;
  std::vector<int32_t> completed;  // days whose markers this batch writes, ascending
  int64_t late_rows = 0;           // rows of days that were complete before this batch
  bool operator==(const DayPlan&) const = default;
};

struct PartitionClock {
  int32_t partition = 0;
  std::optional<int64_t> event_time_us;  // its watermark; none before its first row
  bool caught_up = false;                // the plan reads up to its high watermark
};

// The rule: the last day complete for these partitions, lateness and clock; none when some
// partition has no watermark and is not idle for any day.
std::optional<int32_t> last_complete_day(const std::vector<PartitionClock>& partitions, int64_t lateness_us,
                                         int64_t now_us);

struct BatchDays {
  std::map<int32_t, int64_t> max_event_us;  // partition → largest event time of the batch's good rows
  std::map<int32_t, int64_t> rows_per_day;  // dt → good rows of the batch
};

// The next DayPlan. `caught_up` names every partition of the topic (plan ranges); a partition of
// `before` that is no longer listed is not waited for. `has_marker(day)` tells whether a late day
// has its marker already (a file-system look-up, asked only for late days).
DayPlan plan_days(const DayState& before, const BatchDays& batch, const std::map<int32_t, bool>& caught_up,
                  int64_t lateness_us, int64_t now_us, const std::function<bool(int32_t)>& has_marker);

// The largest value of a TIMESTAMP (µs) or DATE column, as µs since the epoch; none when the
// column has no non-null value.
std::optional<int64_t> max_event_time_us(const arrow::Array& column);

// The wall clock the rule reads, in µs: KPIPE_TEST_WALL_CLOCK_MS when set (tests), else the real one.
int64_t day_clock_us();

// The marker's body: Spark's _SUCCESS is empty; ours says who wrote it, and is the same bytes on
// every replay of the batch (create-if-absent then accepts the replay's write).
std::string day_marker_body(std::string_view query_id, int64_t batch_id, int32_t day, int64_t planned_at_ms);

}  // namespace kpipe
