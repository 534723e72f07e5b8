#include <gtest/gtest.h>

#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

using testing::event_batch;
using testing::make_array;

std::shared_ptr<arrow::RecordBatch> mixed_batch() {
  using S = std::optional<std::string>;
  auto ts_type = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  auto ids = make_array<arrow::StringBuilder, std::string>(
      arrow::utf8(),
      std::vector<S>{"a", std::nullopt, "this is a long value over twenty", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"});
  auto ts =
      make_array<arrow::TimestampBuilder, int64_t>(ts_type, {testing::kTs20251106, std::nullopt, 1762432200000000, -1});
  auto value = make_array<arrow::DoubleBuilder, double>(arrow::float64(), {1.5, std::nullopt, 1e10, 0.001});
  auto source = make_array<arrow::StringBuilder, std::string>(
      arrow::utf8(), std::vector<S>{"kpipe-producer", std::nullopt, "line\nbreak", "tab\there"});
  auto n = make_array<arrow::Int32Builder, int32_t>(arrow::int32(), {1, std::nullopt, -7, 0});
  auto ok = make_array<arrow::BooleanBuilder, bool>(arrow::boolean(), {true, std::nullopt, false, true});
  auto day = make_array<arrow::Date32Builder, int32_t>(arrow::date32(), {testing::kDay20251106, std::nullopt, -1, 0});
  auto schema = arrow::schema({arrow::field("event_id", arrow::utf8()), arrow::field("ts", ts_type),
                               arrow::field("value", arrow::float64()), arrow::field("source", arrow::utf8()),
                               arrow::field("n", arrow::int32()), arrow::field("ok", arrow::boolean()),
                               arrow::field("day", arrow::date32())});
  return arrow::RecordBatch::Make(schema, 4, {ids, ts, value, source, n, ok, day});
}

TEST(ConsoleTableTest, SmallBatchAsSparkShowsIt) {
  EXPECT_EQ(format_console_table(7, *mixed_batch()),
            "-------------------------------------------\n"
            "Batch: 7\n"
            "-------------------------------------------\n"
            "+--------------------+--------------------+------+--------------+----+-----+----------+\n"
            "|            event_id|                  ts| value|        source|   n|   ok|       day|\n"
            "+--------------------+--------------------+------+--------------+----+-----+----------+\n"
            "|                   a|2025-11-06 12:30:...|   1.5|kpipe-producer|   1| true|2025-11-06|\n"
            "|                NULL|                NULL|  NULL|          NULL|NULL| NULL|      NULL|\n"
            "|this is a long va...| 2025-11-06 12:30:00|1.0E10|   line\\nbreak|  -7|false|1969-12-31|\n"
            "|              \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E|1969-12-31 23:59:...| 0.001|     tab\\there|   0| "
            "true|1970-01-01|\n"
            "+--------------------+--------------------+------+--------------+----+-----+----------+\n");
}

// Spark cuts every value past 20 characters, timestamps with a fraction included; with
// truncate = false (Spark's console option truncate=false) values are whole and left-aligned.
TEST(ConsoleTableTest, TruncateAsSparkAndTruncateOff) {
  auto ts = make_array<arrow::TimestampBuilder, int64_t>(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                                         {1762432200100000, 0});
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("ts", ts->type())}), 2, {ts});
  EXPECT_EQ(format_console_table(0, *batch),
            "-------------------------------------------\n"
            "Batch: 0\n"
            "-------------------------------------------\n"
            "+--------------------+\n"
            "|                  ts|\n"
            "+--------------------+\n"
            "|2025-11-06 12:30:...|\n"
            "| 1970-01-01 00:00:00|\n"
            "+--------------------+\n");
  EXPECT_EQ(format_console_table(0, *batch, 20, /*truncate=*/false),
            "-------------------------------------------\n"
            "Batch: 0\n"
            "-------------------------------------------\n"
            "+---------------------+\n"
            "|ts                   |\n"
            "+---------------------+\n"
            "|2025-11-06 12:30:00.1|\n"
            "|1970-01-01 00:00:00  |\n"
            "+---------------------+\n");
}

TEST(ConsoleTableTest, MoreThanTwentyRowsShowsTopTwenty) {
  auto batch = event_batch(25);
  std::string text = format_console_table(12, *batch);
  const std::string sep = "+--------------------+--------------------+------------------+--------------+\n";
  const std::string expected_head =
      "-------------------------------------------\n"
      "Batch: 12\n"
      "-------------------------------------------\n" +
      sep + "|            event_id|                  ts|             value|        source|\n" + sep +
      "|run-7f3a9c21-0000...|2025-11-06 12:30:...|               0.0|kpipe-producer|\n" +
      "|run-7f3a9c21-0000...|2025-11-06 12:30:...| 883.3108082136426|kpipe-producer|\n";
  EXPECT_TRUE(text.starts_with(expected_head)) << text;
  EXPECT_TRUE(text.ends_with(sep + "only showing top 20 rows\n")) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3 + 3 + 20 + 1 + 1);

  EXPECT_TRUE(format_console_table(1, *batch, 1).ends_with("only showing top 1 row\n"));
  EXPECT_EQ(format_console_table(1, *event_batch(20)).find("only showing"), std::string::npos);
}

TEST(ConsoleTableTest, EmptyBatchShowsOnlyTheHeader) {
  EXPECT_EQ(format_console_table(3, *event_batch(0)),
            "-------------------------------------------\n"
            "Batch: 3\n"
            "-------------------------------------------\n"
            "+--------+---+-----+------+\n"
            "|event_id| ts|value|source|\n"
            "+--------+---+-----+------+\n"
            "+--------+---+-----+------+\n");
}

TEST(ConsoleTableTest, DoublesPrintAsJavaDoes) {
  auto value = make_array<arrow::DoubleBuilder, double>(
      arrow::float64(), {0.0, -0.0, 1.0, 100.0, 1234567.0, 1e7, 0.001, 0.0001, 1.5e-10, -2.25e20, 0.1 + 0.2,
                         std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()});
  auto f = make_array<arrow::FloatBuilder, float>(
      arrow::float32(), {0.1f, 1e10f, 3.0f, 0.5f, 1e-5f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f});
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("d", arrow::float64()), arrow::field("f", arrow::float32())}), 14, {value, f});
  EXPECT_EQ(format_console_table(0, *batch),
            "-------------------------------------------\n"
            "Batch: 0\n"
            "-------------------------------------------\n"
            "+-------------------+------+\n"
            "|                  d|     f|\n"
            "+-------------------+------+\n"
            "|                0.0|   0.1|\n"
            "|               -0.0|1.0E10|\n"
            "|                1.0|   3.0|\n"
            "|              100.0|   0.5|\n"
            "|          1234567.0|1.0E-5|\n"
            "|              1.0E7|   0.0|\n"
            "|              0.001|   0.0|\n"
            "|             1.0E-4|   0.0|\n"
            "|            1.5E-10|   0.0|\n"
            "|           -2.25E20|   0.0|\n"
            "|0.30000000000000004|   0.0|\n"
            "|                NaN|   0.0|\n"
            "|           Infinity|   0.0|\n"
            "|          -Infinity|   0.0|\n"
            "+-------------------+------+\n");
}

}  // namespace
}  // namespace kpipe
