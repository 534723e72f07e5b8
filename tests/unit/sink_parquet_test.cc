#include <gtest/gtest.h>

#include <arrow/util/config.h>

#include <algorithm>
#include <thread>

#include "sink/dictionary_choice.h"
#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

using testing::all_types_batch;
using testing::event_batch;
using testing::lines_starting_with;
using testing::read_back;
using testing::TempDir;

std::string write_parquet(const TempDir& dir, Compression c, const arrow::RecordBatch& batch, int64_t offset,
                          int64_t length) {
  auto encoder = make_parquet_encoder(c);
  auto bytes = encoder->encode(batch, offset, length);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return "";
  std::string path = dir.path() + "/part-00000000-00000-000" + std::string(encoder->extension());
  testing::write_bytes(path, (*bytes)->data(), static_cast<size_t>((*bytes)->size()));
  return path;
}

TEST(ParquetEncoderTest, ParseCompression) {
  EXPECT_EQ(*parse_compression("snappy"), Compression::kSnappy);
  EXPECT_EQ(*parse_compression("ZSTD"), Compression::kZstd);
  EXPECT_EQ(*parse_compression("none"), Compression::kNone);
  EXPECT_EQ(*parse_compression("uncompressed"), Compression::kNone);
  auto bad = parse_compression("gzip");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kFatal);
  EXPECT_EQ(bad.status().message(), "PARQUET_COMPRESSION=gzip: expected snappy, zstd or none (also: uncompressed)");
  EXPECT_EQ(parquet_extension(Compression::kSnappy), ".snappy.parquet");
  EXPECT_EQ(parquet_extension(Compression::kZstd), ".zstd.parquet");
  EXPECT_EQ(parquet_extension(Compression::kNone), ".parquet");
  auto encoder = make_parquet_encoder(Compression::kZstd);
  EXPECT_EQ(encoder->sink_name(), "parquet");
  EXPECT_EQ(encoder->extension(), ".zstd.parquet");
}

// Every column type, nulls in each, read back by pyarrow and DuckDB: exact values and types.
TEST(ParquetEncoderTest, EveryTypeRoundTripsThroughPyarrowAndDuckdb) {
  TempDir dir;
  auto batch = all_types_batch(/*with_nan=*/true);
  std::string path = write_parquet(dir, Compression::kSnappy, *batch, 0, batch->num_rows());
  auto got = read_back("parquet", path);
  ASSERT_EQ(got.exit_code, 0) << got.output;

  EXPECT_EQ(lines_starting_with(got.output, "pyarrow "),
            "pyarrow type s: string\n"
            "pyarrow type i64: int64\n"
            "pyarrow type i32: int32\n"
            "pyarrow type d: double\n"
            "pyarrow type f: float\n"
            "pyarrow type b: bool\n"
            "pyarrow type ts: timestamp[us, tz=UTC]\n"
            "pyarrow type dt: date32[day]\n"
            "pyarrow row: 'plain' | 1 | 1 | 1.5 | 0.5 | True | 2025-11-06T12:30:00.123000+00:00 | 2025-11-06\n"
            "pyarrow row: 'h\\xe9llo \"q\", x\\ny \\u65e5\\u672c \\U0001f600' | 9223372036854775807 | -2147483648 | "
            "0.1 | 0.10000000149011612 | False | 1969-12-31T23:59:59.999999+00:00 | 1969-12-31\n"
            "pyarrow row: None | None | None | None | None | None | None | None\n"
            "pyarrow row: '' | -9223372036854775808 | 0 | nan | 1.0000000116860974e-07 | True | "
            "1970-01-01T00:00:00+00:00 | 1970-01-01\n"
            "pyarrow row: 'a,b\\r\\nc' | -42 | 2147483647 | 1e+300 | 3.3999999521443642e+38 | False | "
            "1900-01-01T00:00:00.000001+00:00 | 1900-01-01\n");

  EXPECT_EQ(lines_starting_with(got.output, "duckdb "),
            "duckdb type s: VARCHAR\n"
            "duckdb type i64: BIGINT\n"
            "duckdb type i32: INTEGER\n"
            "duckdb type d: DOUBLE\n"
            "duckdb type f: FLOAT\n"
            "duckdb type b: BOOLEAN\n"
            "duckdb type ts: TIMESTAMP WITH TIME ZONE\n"
            "duckdb type dt: DATE\n"
            "duckdb row: 'plain' | '1' | '1' | '1.5' | '0.5' | 'true' | '2025-11-06 12:30:00.123+00' | '2025-11-06'\n"
            "duckdb row: 'h\\xe9llo \"q\", x\\ny \\u65e5\\u672c \\U0001f600' | '9223372036854775807' | "
            "'-2147483648' | '0.1' | '0.1' | 'false' | '1969-12-31 23:59:59.999999+00' | '1969-12-31'\n"
            "duckdb row: None | None | None | None | None | None | None | None\n"
            "duckdb row: '' | '-9223372036854775808' | '0' | 'nan' | '1e-07' | 'true' | '1970-01-01 00:00:00+00' | "
            "'1970-01-01'\n"
            "duckdb row: 'a,b\\r\\nc' | '-42' | '2147483647' | '1e+300' | '3.4e+38' | 'false' | "
            "'1900-01-01 00:00:00.000001+00' | '1900-01-01'\n");
}

// The physical layout Spark, Hive and DuckDB rely on: TIMESTAMP(isAdjustedToUTC, MICROS) on
// INT64 (not int96, not millis), logical String/Date, statistics, one row group, and a
// created_by that parquet-mr's VersionParser accepts. Every column holds distinct values, so
// none has a dictionary (parquet-mr's rule, ColumnsAreDictionaryEncodedOnlyWhereThatIsSmaller).
TEST(ParquetEncoderTest, PhysicalLayoutAndMetadata) {
  TempDir dir;
  auto batch = all_types_batch(true);
  std::string path = write_parquet(dir, Compression::kSnappy, *batch, 0, batch->num_rows());
  auto got = read_back("parquet", path);
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(lines_starting_with(got.output, "parquet "),
            "parquet created_by: kpipe version " KPIPE_VERSION " (build parquet-cpp-arrow version " +
                std::string(ARROW_VERSION_STRING) +
                ")\n"
                "parquet row_groups: 1 rows: 5\n"
                "parquet column s: BYTE_ARRAY {\"Type\":\"String\"} SNAPPY stats=True nulls=1 plain\n"
                "parquet column i64: INT64 none SNAPPY stats=True nulls=1 plain\n"
                "parquet column i32: INT32 none SNAPPY stats=True nulls=1 plain\n"
                "parquet column d: DOUBLE none SNAPPY stats=True nulls=1 plain\n"
                "parquet column f: FLOAT none SNAPPY stats=True nulls=1 plain\n"
                "parquet column b: BOOLEAN none SNAPPY stats=True nulls=1 plain\n"
                "parquet column ts: INT64 {\"Type\":\"Timestamp\",\"isAdjustedToUTC\":true,\"timeUnit\":"
                "\"microseconds\",\"is_from_converted_type\":false,\"force_set_converted_type\":false} SNAPPY "
                "stats=True nulls=1 plain\n"
                "parquet column dt: INT32 {\"Type\":\"Date\"} SNAPPY stats=True nulls=1 plain\n");
}

// A dictionary only where dictionary plus indices are smaller than plain values, as parquet-mr
// decides: unique ids, timestamps and measurements are written plain, a repeated string and a
// handful of values keep their dictionary; booleans and nested columns are left to Arrow.
TEST(DictionaryChoiceTest, OnlyColumnsWhoseDictionaryWouldNotPayAreListed) {
  auto events = testing::event_batch(5000);
  EXPECT_EQ(columns_without_dictionary(*events), (std::vector<std::string>{"event_id", "ts", "value"}));
  // The sample is the first kDictionarySampleValues non-null values of the rows given.
  EXPECT_EQ(columns_without_dictionary(*events->Slice(100, 3)), (std::vector<std::string>{"event_id", "ts", "value"}));

  auto few = testing::from_json(arrow::float64(), "[1.5, 2.5, 1.5, 2.5, 1.5, 2.5, null, 1.5, 2.5, 1.5, 2.5, 1.5]");
  auto same = testing::from_json(arrow::utf8(), R"(["a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"])");
  auto nulls =
      testing::from_json(arrow::int64(), "[null, null, null, null, null, null, null, null, null, null, null, null]");
  auto flags = testing::from_json(arrow::boolean(),
                                  "[true, false, true, false, true, false, true, false, true, false, true, false]");
  auto ids = testing::from_json(arrow::int64(), "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]");
  auto lists = testing::from_json(arrow::list(arrow::int64()),
                                  "[[1], [2], [3], [4], [5], [6], [7], [8], [9], [10], [11], [12]]");
  auto schema =
      arrow::schema({arrow::field("few", arrow::float64()), arrow::field("same", arrow::utf8()),
                     arrow::field("nulls", arrow::int64()), arrow::field("flags", arrow::boolean()),
                     arrow::field("ids", arrow::int64()), arrow::field("lists", arrow::list(arrow::int64()))});
  auto batch = arrow::RecordBatch::Make(schema, 12, {few, same, nulls, flags, ids, lists});
  EXPECT_EQ(columns_without_dictionary(*batch), (std::vector<std::string>{"ids"}));
}

// What a reader sees in the seed's files: event_id, ts and value without a dictionary page,
// source with one, and every value as written.
TEST(ParquetEncoderTest, ColumnsAreDictionaryEncodedOnlyWhereThatIsSmaller) {
  TempDir dir;
  auto batch = event_batch(5000);
  std::string path = write_parquet(dir, Compression::kSnappy, *batch, 0, batch->num_rows());
  auto got = read_back("parquet", path);
  ASSERT_EQ(got.exit_code, 0) << got.output;
  const std::string columns = lines_starting_with(got.output, "parquet column ");
  EXPECT_NE(columns.find("parquet column event_id: BYTE_ARRAY {\"Type\":\"String\"} SNAPPY stats=True nulls=0 plain\n"),
            std::string::npos)
      << columns;
  EXPECT_NE(columns.find(
                "SNAPPY stats=True nulls=0 plain\nparquet column value: DOUBLE none SNAPPY stats=True nulls=0 plain\n"
                "parquet column source: BYTE_ARRAY {\"Type\":\"String\"} SNAPPY stats=True nulls=0 dict\n"),
            std::string::npos)
      << columns;
  EXPECT_NE(got.output.find("parquet row_groups: 1 rows: 5000\n"), std::string::npos) << got.output;
  const std::string rows = lines_starting_with(got.output, "duckdb row: ");
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 5000);
  EXPECT_NE(rows.find("duckdb row: 'run-7f3a9c21-000000004999' | "), std::string::npos);
}

// An encoder that makes files of a set number of bytes per row, to watch the buffer reserved.
class SizedEncoder final : public FileEncoder {
 public:
  std::string_view sink_name() const override { return "sized"; }
  std::string_view extension() const override { return ".sized"; }
  int64_t reserved_for(int64_t rows) const { return output_capacity(rows, 64); }
  int64_t bytes_per_row = 0;

 protected:
  Result<std::shared_ptr<arrow::Buffer>> encode_rows(const arrow::RecordBatch&, int64_t,
                                                     int64_t length) const override {
    return std::shared_ptr<arrow::Buffer>(arrow::AllocateBuffer(length * bytes_per_row).ValueOrDie());
  }
};

// The buffer reserved for a file follows the bytes per row of recent files, so a file of
// large events is not copied through a row of doublings, and a file of huge rows cannot make
// every later file reserve gigabytes.
TEST(FileEncoderTest, ReservesWhatRecentFilesTookAndNeverGigabytes) {
  auto batch = event_batch(5000);
  SizedEncoder encoder;
  EXPECT_EQ(encoder.reserved_for(5000), 64 * 1024 + 5000 * 64);  // the first guess
  encoder.bytes_per_row = 10000;
  ASSERT_TRUE(encoder.encode(*batch, 0, 5000).ok());
  EXPECT_EQ(encoder.reserved_for(5000), 64 * 1024 + 5000 * 11250);
  encoder.bytes_per_row = 80;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(encoder.encode(*batch, 0, 5000).ok());
  EXPECT_EQ(encoder.reserved_for(5000), 64 * 1024 + 5000 * 90);
  encoder.bytes_per_row = 16 << 20;  // one row of 16 MiB
  ASSERT_TRUE(encoder.encode(*batch, 0, 1).ok());
  EXPECT_EQ(encoder.reserved_for(5000), 64 * 1024 + (int64_t{64} << 20));
  encoder.bytes_per_row = 80;
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(encoder.encode(*batch, 0, 5000).ok());
  EXPECT_LT(encoder.reserved_for(5000), 64 * 1024 + 5000 * 100);
}

TEST(ParquetEncoderTest, CompressionCodecsAreApplied) {
  for (auto [c, name] : {std::pair{Compression::kZstd, "ZSTD"}, std::pair{Compression::kNone, "UNCOMPRESSED"}}) {
    TempDir dir;
    auto batch = all_types_batch(false);
    std::string path = write_parquet(dir, c, *batch, 0, batch->num_rows());
    auto got = read_back("parquet", path);
    ASSERT_EQ(got.exit_code, 0) << got.output;
    EXPECT_NE(got.output.find("parquet column i64: INT64 none " + std::string(name) + " "), std::string::npos)
        << got.output;
    const std::string rows = lines_starting_with(got.output, "duckdb row: ");
    EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 5) << got.output;
  }
}

TEST(ParquetEncoderTest, EncodesOnlyTheRequestedSlice) {
  TempDir dir;
  auto batch = all_types_batch(false);
  std::string path = write_parquet(dir, Compression::kSnappy, *batch, 3, 2);
  auto got = read_back("parquet", path);
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(lines_starting_with(got.output, "duckdb row: "),
            "duckdb row: '' | '-9223372036854775808' | '0' | '-0.25' | '1e-07' | 'true' | '1970-01-01 00:00:00+00' | "
            "'1970-01-01'\n"
            "duckdb row: 'a,b\\r\\nc' | '-42' | '2147483647' | '1e+300' | '3.4e+38' | 'false' | "
            "'1900-01-01 00:00:00.000001+00' | '1900-01-01'\n");
  EXPECT_NE(got.output.find("parquet row_groups: 1 rows: 2\n"), std::string::npos) << got.output;
}

TEST(ParquetEncoderTest, RangeOutsideTheBatchIsAnError) {
  auto encoder = make_parquet_encoder(Compression::kSnappy);
  auto batch = all_types_batch(false);
  auto bytes = encoder->encode(*batch, 4, 2);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().kind(), ErrorKind::kFatal);
  EXPECT_NE(bytes.status().message().find("rows [4, 6) outside a batch of 5"), std::string::npos);
}

// A re-run of a batch must rewrite the same files: same rows in, same bytes out, from any thread.
TEST(ParquetEncoderTest, DeterministicAndThreadSafe) {
  auto encoder = make_parquet_encoder(Compression::kSnappy);
  auto batch = event_batch(20000);
  auto reference = encoder->encode(*batch, 5000, 5000);
  ASSERT_TRUE(reference.ok());
  std::vector<std::shared_ptr<arrow::Buffer>> results(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = encoder->encode(*batch, 5000, 5000);
      if (r.ok()) results[t] = *r;
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) {
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->Equals(**reference));
  }
}

}  // namespace
}  // namespace kpipe
