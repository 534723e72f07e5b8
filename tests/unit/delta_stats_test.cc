#include "delta/delta_stats.h"

#include <arrow/api.h>
#include <arrow/io/memory.h>
#include <gtest/gtest.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

// 2026-12-01T10:00:00.123456Z, and the same second at .999500.
constexpr int64_t kTs = 1796119200123456;
constexpr int64_t kTsLate = 1796119200999500;
constexpr int32_t kDec1 = 20788;  // 2026-12-01

template <typename Builder, typename T>
std::shared_ptr<arrow::Array> make(std::shared_ptr<arrow::DataType> type, const std::vector<std::optional<T>>& values) {
  Builder b(type, arrow::default_memory_pool());
  for (const auto& v : values) {
    if (v) {
      EXPECT_TRUE(b.Append(*v).ok());
    } else {
      EXPECT_TRUE(b.AppendNull().ok());
    }
  }
  return b.Finish().ValueOrDie();
}

using S = std::optional<std::string>;
using I64 = std::optional<int64_t>;
using I32 = std::optional<int32_t>;
using F64 = std::optional<double>;
using F32 = std::optional<float>;
using B = std::optional<bool>;

std::shared_ptr<arrow::Array> strings(const std::vector<S>& v) { return make<arrow::StringBuilder>(arrow::utf8(), v); }
std::shared_ptr<arrow::Array> int64s(const std::vector<I64>& v) { return make<arrow::Int64Builder>(arrow::int64(), v); }
std::shared_ptr<arrow::Array> int32s(const std::vector<I32>& v) { return make<arrow::Int32Builder>(arrow::int32(), v); }
std::shared_ptr<arrow::Array> doubles(const std::vector<F64>& v) {
  return make<arrow::DoubleBuilder>(arrow::float64(), v);
}
std::shared_ptr<arrow::Array> floats(const std::vector<F32>& v) {
  return make<arrow::FloatBuilder>(arrow::float32(), v);
}
std::shared_ptr<arrow::Array> bools(const std::vector<B>& v) {
  return make<arrow::BooleanBuilder>(arrow::boolean(), v);
}
std::shared_ptr<arrow::Array> timestamps(const std::vector<I64>& v) {
  return make<arrow::TimestampBuilder>(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), v);
}
std::shared_ptr<arrow::Array> dates(const std::vector<I32>& v) {
  return make<arrow::Date32Builder>(arrow::date32(), v);
}

std::shared_ptr<arrow::Table> table(const std::vector<std::pair<std::string, std::shared_ptr<arrow::Array>>>& cols) {
  arrow::FieldVector fields;
  arrow::ArrayVector arrays;
  for (const auto& [name, array] : cols) {
    fields.push_back(arrow::field(name, array->type()));
    arrays.push_back(array);
  }
  return arrow::Table::Make(arrow::schema(fields), arrays);
}

// The writer settings of src/sink/parquet_encoder.cc that matter for the footer: statistics on,
// format 2.6 logical types, timestamps as TIMESTAMP(MICROS, UTC).
std::shared_ptr<arrow::Buffer> write_parquet(const arrow::Table& t, int64_t rows_per_group, bool statistics = true) {
  parquet::WriterProperties::Builder props;
  props.enable_dictionary()->version(parquet::ParquetVersion::PARQUET_2_6);
  props.data_page_version(parquet::ParquetDataPageVersion::V1);
  if (statistics) {
    props.enable_statistics();
  } else {
    props.disable_statistics();
  }
  auto arrow_props = parquet::ArrowWriterProperties::Builder()
                         .disable_deprecated_int96_timestamps()
                         ->coerce_timestamps(arrow::TimeUnit::MICRO)
                         ->disallow_truncated_timestamps()
                         ->store_schema()
                         ->build();
  auto out = arrow::io::BufferOutputStream::Create().ValueOrDie();
  EXPECT_TRUE(
      parquet::arrow::WriteTable(t, arrow::default_memory_pool(), out, rows_per_group, props.build(), arrow_props)
          .ok());
  return out->Finish().ValueOrDie();
}

std::string stats_of(const arrow::Table& t, int64_t rows_per_group = 1 << 20) {
  auto r = delta_file_stats(*write_parquet(t, rows_per_group));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : "";
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(DeltaStats, EveryTypeWithNullsOverSeveralRowGroups) {
  auto t = table({
      {"s", strings({"banana", S{}, "apple", "cherry", S{}})},
      {"i64", int64s({5, I64{}, -9, 100, 7})},
      {"i32", int32s({-3, 7, 0, I32{}, 2})},
      {"f64", doubles({1.5, F64{}, -2.25, 1e300, 0.1})},
      {"f32", floats({1.1f, F32{}, 3.5f, -0.25f, F32{}})},
      {"b", bools({true, false, B{}, true, true})},
      {"ts", timestamps({kTs, I64{}, kTs - 86'400'000'000, kTsLate, I64{}})},
      {"d", dates({kDec1, I32{}, -165, kDec1 + 30, 0})},
      {"none", int64s({I64{}, I64{}, I64{}, I64{}, I64{}})},
      {"we\"ird.name \xC3\xA9", int32s({1, 2, 3, 4, 5})},
  });
  // Two rows per group: three row groups, the last of one row.
  EXPECT_EQ(stats_of(*t, 2), R"({"numRecords":5,)"
                             R"("minValues":{"s":"apple","i64":-9,"i32":-3,"f64":-2.25,"f32":-0.25,)"
                             R"("ts":"2026-11-30T10:00:00.123Z","d":"1969-07-20","we\"ird.name é":1},)"
                             R"("maxValues":{"s":"cherry","i64":100,"i32":7,"f64":1e+300,"f32":3.5,)"
                             R"("ts":"2026-12-01T10:00:01.000Z","d":"2026-12-31","we\"ird.name é":5},)"
                             R"("nullCount":{"s":2,"i64":1,"i32":1,"f64":1,"f32":2,"b":1,"ts":2,"d":1,"none":5,)"
                             R"("we\"ird.name é":0}})");
}

TEST(DeltaStats, TimestampMinIsFlooredAndMaxRoundedUpToTheMillisecond) {
  // Exact milliseconds stay as they are; pre-1970 values floor towards minus infinity.
  EXPECT_EQ(stats_of(*table({{"ts", timestamps({kTs - 456, kTs + 544})}})),
            R"({"numRecords":2,"minValues":{"ts":"2026-12-01T10:00:00.123Z"},)"
            R"("maxValues":{"ts":"2026-12-01T10:00:00.124Z"},"nullCount":{"ts":0}})");
  EXPECT_EQ(stats_of(*table({{"ts", timestamps({-1, -1})}})),
            R"({"numRecords":2,"minValues":{"ts":"1969-12-31T23:59:59.999Z"},)"
            R"("maxValues":{"ts":"1970-01-01T00:00:00.000Z"},"nullCount":{"ts":0}})");
}

TEST(DeltaStats, LongStringsAreCutAt32CodePointsAndTheMaxGetsTheTieBreaker) {
  const std::string e = "\xC3\xA9";             // é, two bytes
  const std::string fffd = "\xEF\xBF\xBD";      // U+FFFD
  const std::string grin = "\xF0\x9F\x98\x80";  // U+1F600, four bytes: above U+FFFD in UTF-8 order
  // Min and max cut after 32 code points, never inside a character; the max ends in U+FFFD.
  EXPECT_EQ(stats_of(*table({{"s", strings({repeat(e, 40), repeat(e, 31) + "a" + repeat("z", 10)})}})),
            R"({"numRecords":2,"minValues":{"s":")" + repeat(e, 31) + R"(a"},)" + R"("maxValues":{"s":")" +
                repeat(e, 32) + fffd + R"("},"nullCount":{"s":0}})");
  // Exactly 32 code points: nothing is cut.
  EXPECT_EQ(stats_of(*table({{"s", strings({repeat(e, 32)})}})), R"({"numRecords":1,"minValues":{"s":")" +
                                                                     repeat(e, 32) + R"("},"maxValues":{"s":")" +
                                                                     repeat(e, 32) + R"("},"nullCount":{"s":0}})");
  // Code points >= U+FFFD after the cut are kept, so the tie-breaker is still greater than the rest.
  EXPECT_EQ(stats_of(*table({{"s", strings({repeat("a", 32) + grin + fffd + "b" + grin})}})),
            R"({"numRecords":1,"minValues":{"s":")" + repeat("a", 32) + R"("},"maxValues":{"s":")" + repeat("a", 32) +
                grin + fffd + fffd + R"("},"nullCount":{"s":0}})");
  // Everything after the cut is >= U+FFFD: the max is the value itself.
  EXPECT_EQ(stats_of(*table({{"s", strings({repeat("a", 32) + grin})}})),
            R"({"numRecords":1,"minValues":{"s":")" + repeat("a", 32) + R"("},"maxValues":{"s":")" + repeat("a", 32) +
                grin + R"("},"nullCount":{"s":0}})");
}

TEST(DeltaStats, NonFiniteBoundsAndAllNaNColumnsHaveNoMinMax) {
  const double nan = std::nan("");
  const double inf = std::numeric_limits<double>::infinity();
  auto t = table({
      {"nan_only", doubles({nan, nan})},
      {"with_nan", doubles({nan, 2.5})},  // the footer leaves NaN out: 2.5 is what it knows
      {"inf", doubles({-inf, 1.0})},
      {"f32_inf", floats({1.0f, std::numeric_limits<float>::infinity()})},
  });
  EXPECT_EQ(stats_of(*t), R"({"numRecords":2,"minValues":{"with_nan":2.5,"f32_inf":1},)"
                          R"("maxValues":{"with_nan":2.5,"inf":1},)"
                          R"("nullCount":{"nan_only":0,"with_nan":0,"inf":0,"f32_inf":0}})");
}

TEST(DeltaStats, ZeroRows) {
  auto t = table({{"s", strings({})}, {"i", int64s({})}});
  EXPECT_EQ(stats_of(*t), R"({"numRecords":0,"minValues":{},"maxValues":{},"nullCount":{"s":0,"i":0}})");
}

TEST(DeltaStats, WithoutFooterStatisticsOnlyNumRecordsIsKnown) {
  auto t = table({{"s", strings({"a", S{}})}, {"i", int64s({1, 2})}});
  auto r = delta_file_stats(*write_parquet(*t, 1 << 20, /*statistics=*/false));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, R"({"numRecords":2,"minValues":{},"maxValues":{},"nullCount":{}})");
}

TEST(DeltaStats, NotParquetIsAnErrorThatSaysWhere) {
  auto garbage = arrow::Buffer::FromString("this is not a parquet file, not even close");
  auto r = delta_file_stats(*garbage);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_TRUE(r.status().message().starts_with("reading the Parquet footer for Delta stats: ")) << r.status().message();
}

// 5000 rows as the engine writes them per file; the footer alone must take microseconds.
std::shared_ptr<arrow::Table> typical_file() {
  std::vector<S> s;
  std::vector<I64> i64, ts;
  std::vector<I32> i32, d;
  std::vector<F64> f64;
  std::vector<B> b;
  for (int i = 0; i < 5000; ++i) {
    s.push_back(i % 10 == 0 ? S{} : S{"user-" + std::to_string(i * 7919 % 5000)});
    i64.push_back(int64_t{i} * 1'000'003);
    ts.push_back(kTs + int64_t{i} * 1'234);
    i32.push_back(i % 97);
    d.push_back(kDec1 + i % 5);
    f64.push_back(i * 0.5);
    b.push_back(i % 3 == 0);
  }
  return table({{"user", strings(s)},
                {"seq", int64s(i64)},
                {"ts", timestamps(ts)},
                {"n", int32s(i32)},
                {"day", dates(d)},
                {"amount", doubles(f64)},
                {"flag", bools(b)}});
}

TEST(DeltaStats, TakesMicrosecondsOnA5000RowFile) {
  auto file = write_parquet(*typical_file(), 1 << 20);
  constexpr int kRuns = 2000;
  std::vector<double> us;
  for (int i = 0; i < kRuns; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto r = delta_file_stats(*file);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    ASSERT_TRUE(r.ok());
  }
  std::sort(us.begin(), us.end());
  std::printf("delta_file_stats on a 5000-row, 7-column file of %lld bytes: median %.1f us, p99 %.1f us\n",
              static_cast<long long>(file->size()), us[kRuns / 2], us[kRuns * 99 / 100]);
  EXPECT_LT(us[kRuns / 2], 1000.0);
}

// An independent reader: delta-rs (deltalake.write_deltalake) writes the same rows as a Delta
// table and tests/unit/delta_stats_check.py compares its add.stats with ours, and both with the
// footer as pyarrow reads it.
TEST(DeltaStats, AgreesWithDeltaRsAndPyarrow) {
  testing::TempDir dir;
  auto t = table({
      {"s", strings({"banana", S{}, "apple", repeat("\xC3\xA9", 40), S{}})},
      {"i64", int64s({5, I64{}, -9, 100, 7})},
      {"i32", int32s({-3, 7, 0, I32{}, 2})},
      {"f64", doubles({1.5, F64{}, -2.25, 1e300, 0.1})},
      {"f32", floats({1.1f, F32{}, 3.5f, -0.25f, F32{}})},
      {"b", bools({true, false, B{}, true, true})},
      {"ts", timestamps({kTs, I64{}, kTs - 86'400'000'000, kTsLate, I64{}})},
      {"d", dates({kDec1, I32{}, -165, kDec1 + 30, 0})},
      {"none", int64s({I64{}, I64{}, I64{}, I64{}, I64{}})},
      {"we\"ird name", int32s({1, 2, 3, 4, 5})},
  });
  auto file = write_parquet(*t, 2);
  auto stats = delta_file_stats(*file);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const std::string parquet_path = dir.path() + "/part-0.parquet";
  const std::string stats_path = dir.path() + "/stats.json";
  testing::write_bytes(parquet_path, file->data(), static_cast<size_t>(file->size()));
  testing::write_bytes(stats_path, stats->data(), stats->size());
  auto out = testing::run_python(std::string("'") + KPIPE_SOURCE_DIR + "/tests/unit/delta_stats_check.py' '" +
                                 parquet_path + "' '" + stats_path + "' '" + dir.path() + "/table'");
  EXPECT_EQ(out.exit_code, 0) << out.output;
  std::printf("%s", out.output.c_str());
}

// Delta nests a struct's stats as the schema is nested (PROTOCOL.md, Per-file Statistics);
// leaves inside lists and maps get none (their footer counts are per element, and Delta keeps
// no min/max for arrays or maps); decimals are exact JSON numbers with their scale; TINYINT and
// SMALLINT are numbers; TIMESTAMP_NTZ has a zone-less text, its max rounded up to the ms; BINARY
// has a nullCount only. The file is what kpipe's Parquet encoder writes (decimals on
// INT32/INT64/FIXED_LEN_BYTE_ARRAY by precision).
TEST(DeltaStatsNested, StructsNestListsAndMapsAreLeftOut) {
  auto batch = testing::nested_batch();
  auto file = make_parquet_encoder(Compression::kSnappy)->encode(*batch, 0, batch->num_rows());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto stats = delta_file_stats(**file);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(*stats,
            "{\"numRecords\":4,"
            "\"minValues\":{\"user\":{\"id\":1},\"rate\":-0.05,\"big\":-9999999999999999999999999999.9999999999,"
            "\"t8\":-128,\"t16\":-32768,\"local\":\"1969-12-31T23:59:59.999\"},"
            "\"maxValues\":{\"user\":{\"id\":7},\"rate\":1.50,\"big\":12345678901234567890.0123456789,"
            "\"t8\":127,\"t16\":32767,\"local\":\"2025-11-06T12:30:00.124\"},"
            "\"nullCount\":{\"user\":{\"id\":2},\"rate\":1,\"big\":1,\"payload\":1,\"t8\":1,\"t16\":1,\"local\":1}}");
}

// Deeper structs over several row groups: each leaf's bounds and null counts are combined
// across groups; a struct leaf counts the rows where its struct is null too (Spark's
// `a.b IS NULL`); a struct whose fields have no stats is left out, not written as {}; decimals
// on FIXED_LEN_BYTE_ARRAY (this writer's default) give the same numbers.
TEST(DeltaStatsNested, DeeperStructsOverSeveralRowGroups) {
  auto info_t = arrow::struct_(
      {arrow::field("name", arrow::utf8()), arrow::field("at", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
       arrow::field("inner",
                    arrow::struct_({arrow::field("x", arrow::float64()), arrow::field("flag", arrow::boolean()),
                                    arrow::field("none", arrow::int32())})),
       arrow::field("tags", arrow::list(arrow::field("element", arrow::utf8())))});
  auto only_list_t = arrow::struct_({arrow::field("l", arrow::list(arrow::field("element", arrow::int32())))});
  auto info = testing::from_json(info_t, R"([
      {"name": "b", "at": 1796119200123456, "inner": {"x": 1.5, "flag": true, "none": null}, "tags": ["z"]},
      null,
      {"name": null, "at": 0, "inner": null, "tags": null},
      {"name": "a", "at": 1796119200999500, "inner": {"x": -2.5, "flag": null, "none": null}, "tags": []},
      {"name": "c", "at": null, "inner": {"x": null, "flag": false, "none": null}, "tags": ["y"]}])");
  auto only_list = testing::from_json(only_list_t, R"([{"l": [1]}, null, {"l": null}, {"l": []}, {"l": [2, 3]}])");
  auto price = testing::from_json(arrow::decimal128(10, 2), R"(["12.30", null, "-0.05", "99999999.99", "0.00"])");
  auto t = table({{"info", info}, {"only_list", only_list}, {"price", price}});
  auto file = write_parquet(*t, 2);
  auto stats = delta_file_stats(*file);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(*stats,
            "{\"numRecords\":5,"
            "\"minValues\":{\"info\":{\"name\":\"a\",\"at\":\"1970-01-01T00:00:00.000Z\",\"inner\":{\"x\":-2.5}},"
            "\"price\":-0.05},"
            "\"maxValues\":{\"info\":{\"name\":\"c\",\"at\":\"2026-12-01T10:00:01.000Z\",\"inner\":{\"x\":1.5}},"
            "\"price\":99999999.99},"
            "\"nullCount\":{\"info\":{\"name\":2,\"at\":2,\"inner\":{\"x\":3,\"flag\":3,\"none\":5}},\"price\":1}}");
}

// An independent reader: delta-rs writes the same rows as a Delta table and
// tests/unit/delta_stats_nested_check.py compares its add.stats with ours, then opens a table
// whose commit carries our file with our stats (protocol and schemaString from delta-rs's own
// commit): delta-rs parses the nested stats, reads the rows back and prunes by them correctly.
TEST(DeltaStatsNested, AgreesWithDeltaRsAndDeltaRsReadsThem) {
  testing::TempDir dir;
  auto batch = testing::nested_batch();
  auto file = make_parquet_encoder(Compression::kSnappy)->encode(*batch, 0, batch->num_rows());
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto stats = delta_file_stats(**file);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const std::string parquet_path = dir.path() + "/part-0.parquet";
  const std::string stats_path = dir.path() + "/stats.json";
  testing::write_bytes(parquet_path, (*file)->data(), static_cast<size_t>((*file)->size()));
  testing::write_bytes(stats_path, stats->data(), stats->size());
  auto out = testing::run_python(std::string("'") + KPIPE_SOURCE_DIR + "/tests/unit/delta_stats_nested_check.py' '" +
                                 parquet_path + "' '" + stats_path + "' '" + dir.path() + "'");
  EXPECT_EQ(out.exit_code, 0) << out.output;
  std::printf("%s", out.output.c_str());
}

}  // namespace
}  // namespace kpipe
