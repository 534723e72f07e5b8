#include "engine/day_completion.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>

#include "common/json_writer.h"
#include "common/time_format.h"
#include "common/time_util.h"
#include "decode/timestamp.h"

namespace kpipe {
namespace {

std::string day_text(int32_t day) {
  char buf[16];
  char* end = format_date(day, buf);
  return std::string(buf, end);
}

}  // namespace

std::optional<int32_t> last_complete_day(const std::vector<PartitionClock>& partitions, int64_t lateness_us,
                                         int64_t now_us) {
  if (partitions.empty()) return std::nullopt;
  // How far each partition vouches for: its watermark, or the clock when it is caught up (an idle
  // partition's next event is later than now). The slowest one decides.
  int64_t slowest = std::numeric_limits<int64_t>::max();
  for (const auto& p : partitions) {
    std::optional<int64_t> bound = p.event_time_us;
    if (p.caught_up) bound = std::max(bound.value_or(now_us), now_us);
    if (!bound) return std::nullopt;
    slowest = std::min(slowest, *bound);
  }
  // Day D is complete when end(D) + lateness <= slowest, end(D) being the start of day D + 1.
  const int64_t last = floor_div(slowest - lateness_us, kMicrosPerDay) - 1;
  // No dt is before 0001-01-01 (the decoder's range), and the checkpoint writes days as YYYY-MM-DD.
  if (last < days_from_civil(1, 1, 1)) return std::nullopt;
  return static_cast<int32_t>(std::min<int64_t>(last, std::numeric_limits<int32_t>::max()));
}

DayPlan plan_days(const DayState& before, const BatchDays& batch, const std::map<int32_t, bool>& caught_up,
                  int64_t lateness_us, int64_t now_us, const std::function<bool(int32_t)>& has_marker) {
  DayPlan plan;
  DayState& after = plan.after;
  after.watermarks_us = before.watermarks_us;
  for (const auto& [p, t] : batch.max_event_us) {
    auto [it, added] = after.watermarks_us.emplace(p, t);
    if (!added) it->second = std::max(it->second, t);
  }
  std::vector<PartitionClock> clocks;
  for (const auto& [p, up] : caught_up) {
    PartitionClock c{p, std::nullopt, up};
    if (auto it = after.watermarks_us.find(p); it != after.watermarks_us.end()) c.event_time_us = it->second;
    clocks.push_back(c);
  }
  after.complete_through = before.complete_through;
  if (auto last = last_complete_day(clocks, lateness_us, now_us)) {
    if (!after.complete_through || *last > *after.complete_through) after.complete_through = last;
  }
  std::set<int32_t> open(before.open_days.begin(), before.open_days.end());
  std::set<int32_t> completed;
  for (const auto& [day, rows] : batch.rows_per_day) {
    if (rows <= 0) continue;
    if (before.complete_through && day <= *before.complete_through) {
      plan.late_rows += rows;
      if (!has_marker(day)) completed.insert(day);
    } else {
      open.insert(day);
    }
  }
  for (int32_t day : open) {
    if (after.complete_through && day <= *after.complete_through)
      completed.insert(day);
    else
      after.open_days.push_back(day);
  }
  plan.completed.assign(completed.begin(), completed.end());
  return plan;
}

std::optional<int64_t> max_event_time_us(const arrow::Array& column) {
  std::optional<int64_t> best;
  auto scan = [&](const auto* values, int64_t scale) {
    for (int64_t i = 0; i < column.length(); ++i) {
      if (column.IsNull(i)) continue;
      const int64_t v = static_cast<int64_t>(values[i]) * scale;
      if (!best || v > *best) best = v;
    }
  };
  if (column.type_id() == arrow::Type::TIMESTAMP) {
    scan(static_cast<const arrow::TimestampArray&>(column).raw_values(), 1);
  } else if (column.type_id() == arrow::Type::DATE32) {
    scan(static_cast<const arrow::Date32Array&>(column).raw_values(), kMicrosPerDay);
  }
  return best;
}

int64_t day_clock_us() {
  static const char* fixed = std::getenv("KPIPE_TEST_WALL_CLOCK_MS");
  if (fixed && *fixed) return std::strtoll(fixed, nullptr, 10) * 1000;
  return wall_clock_ms() * 1000;
}

std::string day_marker_body(std::string_view query_id, int64_t batch_id, int32_t day, int64_t planned_at_ms) {
  char when[40];
  char* end = format_timestamp(planned_at_ms * 1000, TimestampStyle::kIsoUtcMillis, when);
  JsonWriter w;
  w.begin_object()
      .field("dt", day_text(day))
      .field("queryId", query_id)
      .field("batchId", batch_id)
      .field("completedAt", std::string(when, end))
      .end_object();
  return w.take() + "\n";
}

}  // namespace kpipe
