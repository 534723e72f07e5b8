// DT_COMPLETE_AFTER: the completion rule (a pure function of watermarks, caught-up state and the
// clock), the plan of a batch's markers, and the checkpoint fields that carry them.
#include "engine/day_completion.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include "decode/timestamp.h"
#include "engine/checkpoint.h"

namespace kpipe {
namespace {

constexpr int64_t kHour = int64_t{3600} * 1000 * 1000;
const int32_t kD = days_from_civil(2026, 3, 10);  // the day under test
// µs of day D + `hours` (may pass midnight).
int64_t at(double hours) { return int64_t{kD} * kMicrosPerDay + static_cast<int64_t>(hours * kHour); }

TEST(LastCompleteDay, TheSlowestPartitionDecides) {
  // Partition 0 at D+1 02:00, partition 1 at D 23:00, lateness 1 h, clock at D+1 00:30: day D
  // needs every partition past D+1 01:00; partition 1 holds it back (and is not idle: the clock
  // is not past D+1 01:00 either).
  std::vector<PartitionClock> p = {{0, at(26), true}, {1, at(23), true}};
  EXPECT_EQ(last_complete_day(p, kHour, at(24.5)), kD - 1);
  p[1].event_time_us = at(25);  // exactly end(D) + lateness
  EXPECT_EQ(last_complete_day(p, kHour, at(24.5)), kD);
  p[1].event_time_us = at(25) - 1;
  EXPECT_EQ(last_complete_day(p, kHour, at(24.5)), kD - 1);
}

TEST(LastCompleteDay, AnIdlePartitionFollowsTheClock) {
  // Partition 2 never had data. Caught up, it is idle once the clock is past end(D) + lateness.
  std::vector<PartitionClock> p = {{0, at(26), true}, {2, std::nullopt, true}};
  EXPECT_EQ(last_complete_day(p, kHour, at(24.9)), kD - 1);
  EXPECT_EQ(last_complete_day(p, kHour, at(25.0)), kD);
  // Not caught up (a capped plan left data behind): no watermark, no idleness, nothing complete.
  p[1].caught_up = false;
  EXPECT_EQ(last_complete_day(p, kHour, at(100)), std::nullopt);
  // A lagging partition with a watermark is judged by it, whatever the clock says.
  p[1].event_time_us = at(10);
  EXPECT_EQ(last_complete_day(p, kHour, at(100)), kD - 1);
  EXPECT_EQ(last_complete_day({}, kHour, at(100)), std::nullopt);
}

TEST(LastCompleteDay, EventTimesBefore1970AndZeroLateness) {
  std::vector<PartitionClock> p = {{0, -1, false}};  // 1969-12-31T23:59:59.999999
  EXPECT_EQ(last_complete_day(p, 0, 0), -2);
  p[0].event_time_us = 0;  // 1970-01-01T00:00: 1969-12-31 is over
  EXPECT_EQ(last_complete_day(p, 0, 0), -1);
  // Regression: an event of 0001-01-01 00:30 made day 0000-12-30 complete, a day the checkpoint
  // could not read back. No day before 0001-01-01 is ever complete.
  const int64_t year_one = int64_t{days_from_civil(1, 1, 1)} * kMicrosPerDay;
  p[0].event_time_us = year_one + kHour / 2;
  EXPECT_EQ(last_complete_day(p, kHour, 0), std::nullopt);
  p[0].event_time_us = year_one + kMicrosPerDay + kHour;
  EXPECT_EQ(last_complete_day(p, kHour, 0), days_from_civil(1, 1, 1));
}

TEST(PlanDays, DaysCompleteOnceInOrderAndLateRowsAreCounted) {
  auto no_marker = [](int32_t) { return false; };
  const std::map<int32_t, bool> busy = {{0, false}, {1, false}, {2, false}};
  DayState s;
  // Batch 1: rows of D and D+1; partition 1 only reaches D 23:00, partition 2 has nothing.
  BatchDays b1{{{0, at(26)}, {1, at(23)}}, {{kD, 5}, {kD + 1, 2}}};
  DayPlan p1 = plan_days(s, b1, busy, kHour, at(24.5), no_marker);
  EXPECT_TRUE(p1.completed.empty());
  EXPECT_EQ(p1.after.open_days, (std::vector<int32_t>{kD, kD + 1}));
  EXPECT_EQ(p1.after.complete_through, std::nullopt);
  EXPECT_EQ(p1.late_rows, 0);
  // Batch 2: partition 1 passes D+1 01:00 and partition 2 reaches D+1 03:00: D completes, D+1 not.
  BatchDays b2{{{1, at(25.1)}, {2, at(27)}}, {{kD + 1, 2}}};
  DayPlan p2 = plan_days(p1.after, b2, busy, kHour, at(24.5), no_marker);
  EXPECT_EQ(p2.completed, std::vector<int32_t>{kD});
  EXPECT_EQ(p2.after.complete_through, kD);
  EXPECT_EQ(p2.after.open_days, std::vector<int32_t>{kD + 1});
  EXPECT_EQ(p2.after.watermarks_us.at(0), at(26));  // kept from batch 1
  // Batch 3: late rows of D (marker there): written, counted, no second marker.
  auto marked = [](int32_t) { return true; };
  BatchDays b3{{{1, at(10)}}, {{kD, 3}}};
  DayPlan p3 = plan_days(p2.after, b3, busy, kHour, at(24.5), marked);
  EXPECT_TRUE(p3.completed.empty());
  EXPECT_EQ(p3.late_rows, 3);
  EXPECT_EQ(p3.after.watermarks_us.at(1), at(25.1));  // a late row never lowers a watermark
  // A late day that had no output when it completed gets its marker with its first rows.
  BatchDays b4{{{1, at(-30)}}, {{kD - 2, 1}}};
  DayPlan p4 = plan_days(p2.after, b4, busy, kHour, at(24.5), no_marker);
  EXPECT_EQ(p4.completed, std::vector<int32_t>{kD - 2});
  EXPECT_EQ(p4.late_rows, 1);
}

TEST(PlanDays, IdlePartitionsCompleteADayWithoutNewRows) {
  DayState s;
  s.watermarks_us = {{0, at(26)}, {1, at(23)}};
  s.open_days = {kD, kD + 1};
  const std::map<int32_t, bool> idle = {{0, true}, {1, true}, {2, true}};
  auto no_marker = [](int32_t) { return false; };
  EXPECT_TRUE(plan_days(s, {}, idle, kHour, at(24.9), no_marker).completed.empty());
  DayPlan p = plan_days(s, {}, idle, kHour, at(25), no_marker);
  EXPECT_EQ(p.completed, std::vector<int32_t>{kD});
  EXPECT_EQ(p.after.open_days, std::vector<int32_t>{kD + 1});
}

TEST(MaxEventTime, TimestampAndDateColumnsSkippingNulls) {
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), arrow::default_memory_pool());
  ASSERT_TRUE(ts.Append(5).ok());
  ASSERT_TRUE(ts.AppendNull().ok());
  ASSERT_TRUE(ts.Append(-7).ok());
  auto a = ts.Finish().ValueOrDie();
  EXPECT_EQ(max_event_time_us(*a), 5);
  arrow::Date32Builder d;
  ASSERT_TRUE(d.Append(3).ok());
  EXPECT_EQ(max_event_time_us(*d.Finish().ValueOrDie()), 3 * kMicrosPerDay);
  arrow::Date32Builder empty;
  ASSERT_TRUE(empty.AppendNull().ok());
  EXPECT_EQ(max_event_time_us(*empty.Finish().ValueOrDie()), std::nullopt);
}

TEST(DayMarker, BodyIsTheSameBytesForTheSameBatch) {
  const std::string a = day_marker_body("q1", 7, kD, 1700000000000);
  EXPECT_EQ(a, day_marker_body("q1", 7, kD, 1700000000000));
  EXPECT_NE(a.find(R"("dt":"2026-03-10")"), std::string::npos) << a;
  EXPECT_NE(a.find(R"("batchId":7)"), std::string::npos) << a;
}

TEST(CheckpointDays, OffsetsAndCommitFieldsRoundTrip) {
  OffsetsEntry e;
  e.batch_id = 4;
  e.planned_at_ms = 1;
  e.topic = "events";
  e.ranges = {{0, 0, 10}};
  e.sinks = {{"parquet", "/out", "snappy"}};
  DayPlan p;
  p.after.watermarks_us = {{0, at(26)}, {3, -5}};
  p.after.complete_through = kD;
  p.after.open_days = {kD + 1, kD + 2};
  p.completed = {kD - 1, kD};
  p.late_rows = 12;
  e.days = p;
  const std::string text = serialize_offsets(e);
  EXPECT_NE(text.find(R"("completeThrough":"2026-03-10")"), std::string::npos) << text;
  auto back = parse_offsets(text, "offsets/4");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, e);

  CommitEntry c;
  c.batch_id = 4;
  c.completed_days = std::vector<int32_t>{kD};
  auto cback = parse_commit(serialize_commit(c), "commits/4");
  ASSERT_TRUE(cback.ok()) << cback.status().message();
  EXPECT_EQ(*cback, c);
}

TEST(CheckpointDays, EntriesWithoutTheFieldsStillParse) {
  // As kpipe 0.2 wrote them, before DT_COMPLETE_AFTER.
  auto e =
      parse_offsets(R"({"version":1,"batchId":2,"plannedAtMs":1,"topic":"events","writer":"w","filesPerPartition":1,)"
                    R"("maxRecordsPerFile":5000,"ranges":[{"partition":0,"start":0,"end":3}],"sinks":[],"files":[]})",
                    "offsets/2");
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_FALSE(e->days.has_value());
  auto c = parse_commit(
      R"({"version":1,"batchId":2,"committedAtMs":1,"inputRows":0,"outputRows":0,"deadLetterRows":0,"files":[]})",
      "commits/2");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->completed_days.has_value());
}

TEST(CheckpointDays, ADamagedDayIsFatalAndNamesTheField) {
  auto e =
      parse_offsets(R"({"version":1,"batchId":2,"plannedAtMs":1,"topic":"events","writer":"w","filesPerPartition":1,)"
                    R"("maxRecordsPerFile":5000,"ranges":[],"sinks":[],"files":[],)"
                    R"("days":{"openDays":["2026-13-01"],"completed":[],"lateRows":0,"watermarks":[]}})",
                    "offsets/2");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("openDays"), std::string::npos) << e.status().message();
}

}  // namespace
}  // namespace kpipe
