// split_by_day: the rows of a decoded batch grouped by dt, days ascending, each day's rows in
// their order, whatever the span of days (counted up to 179 years, sorted past it).
#include "engine/day_partitioner.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

namespace kpipe {
namespace {

// A batch of one column, row i holding i.
std::shared_ptr<arrow::RecordBatch> numbered_rows(int64_t n) {
  arrow::Int64Builder b;
  for (int64_t i = 0; i < n; ++i) EXPECT_TRUE(b.Append(i).ok());
  std::shared_ptr<arrow::Array> column;
  EXPECT_TRUE(b.Finish(&column).ok());
  return arrow::RecordBatch::Make(arrow::schema({arrow::field("row", arrow::int64())}), n, {column});
}

std::vector<int64_t> row_numbers(const arrow::RecordBatch& rows) {
  const auto& column = static_cast<const arrow::Int64Array&>(*rows.column(0));
  return std::vector<int64_t>(column.raw_values(), column.raw_values() + column.length());
}

// What split_by_day must return: for each day ascending, the rows of that day in order.
std::map<int32_t, std::vector<int64_t>> expected_days(const std::vector<int32_t>& day_of_row) {
  std::map<int32_t, std::vector<int64_t>> days;
  for (size_t i = 0; i < day_of_row.size(); ++i) days[day_of_row[i]].push_back(static_cast<int64_t>(i));
  return days;
}

void expect_split(const std::vector<int32_t>& day_of_row) {
  auto rows = numbered_rows(static_cast<int64_t>(day_of_row.size()));
  auto split = split_by_day(rows, day_of_row);
  ASSERT_TRUE(split.ok()) << split.status().message();
  const auto expected = expected_days(day_of_row);
  ASSERT_EQ(split->size(), expected.size());
  auto want = expected.begin();
  for (const DayRows& day : *split) {
    EXPECT_EQ(day.day, want->first);
    EXPECT_EQ(row_numbers(*day.rows), want->second) << "day " << day.day;
    ASSERT_TRUE(day.rows->ValidateFull().ok());
    ++want;
  }
}

TEST(SplitByDay, OneDayIsTheBatchItselfUncopied) {
  auto rows = numbered_rows(5);
  auto split = split_by_day(rows, {20000, 20000, 20000, 20000, 20000});
  ASSERT_TRUE(split.ok());
  ASSERT_EQ(split->size(), 1u);
  EXPECT_EQ((*split)[0].day, 20000);
  EXPECT_EQ((*split)[0].rows, rows);
}

TEST(SplitByDay, DaysComeAscendingWithEachDaysRowsInTheirOrder) {
  expect_split({20005, 20001, 20005, 20003, 20001, 20001, 20009, 20003});
  expect_split({3, -5, 0, -5, 3, -1});  // around 1970-01-01
}

TEST(SplitByDay, AYearOfDaysInRandomOrder) {
  std::mt19937 rnd(7);
  std::vector<int32_t> days(20000);
  for (auto& d : days) d = 20000 + static_cast<int32_t>(rnd() % 365);
  expect_split(days);
}

TEST(SplitByDay, DaysCenturiesApartAndBeforeTheEpoch) {
  // 1600-01-01, 1969-12-31, 1970-01-01 and 9999-12-31: a span past what is counted, so sorted.
  expect_split({2932896, -135140, 0, -1, 2932896, -135140, 0, -1, 0});
  expect_split({-135140, -1, 0, -1, -135140});
}

TEST(SplitByDay, NoRowsNoDays) {
  auto split = split_by_day(numbered_rows(0), {});
  ASSERT_TRUE(split.ok());
  EXPECT_TRUE(split->empty());
}

TEST(SplitByDay, ADayCountThatDoesNotMatchTheRowsIsAnInternalError) {
  auto split = split_by_day(numbered_rows(3), {1, 2});
  EXPECT_FALSE(split.ok());
}

}  // namespace
}  // namespace kpipe
