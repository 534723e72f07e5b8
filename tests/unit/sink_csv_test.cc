#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

using testing::all_types_batch;
using testing::event_batch;
using testing::lines_starting_with;
using testing::make_array;
using testing::read_back;
using testing::TempDir;

std::string encode_csv(const arrow::RecordBatch& batch, int64_t offset, int64_t length) {
  auto encoder = make_csv_encoder();
  auto bytes = encoder->encode(batch, offset, length);
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  return bytes.ok() ? (*bytes)->ToString() : "";
}

TEST(CsvEncoderTest, NameAndExtension) {
  auto encoder = make_csv_encoder();
  EXPECT_EQ(encoder->sink_name(), "csv");
  EXPECT_EQ(encoder->extension(), ".csv");
}

// The exact bytes: bare header; values bare unless a reader needs quotes (RFC 4180, as Spark's
// CSV writer): a delimiter, quote or line break inside (quotes doubled), the empty string ("",
// since an empty cell is null), leading or trailing blanks; null empty; ISO 8601 UTC timestamps
// with milliseconds (microseconds only when present), pre-1970 values floored correctly.
TEST(CsvEncoderTest, ExactBytes) {
  auto batch = all_types_batch(/*with_nan=*/false);
  EXPECT_EQ(encode_csv(*batch, 0, batch->num_rows()),
            "s,i64,i32,d,f,b,ts,dt\n"
            "plain,1,1,1.5,0.5,true,2025-11-06T12:30:00.123Z,2025-11-06\n"
            "\"h\xC3\xA9llo \"\"q\"\", x\ny \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80\",9223372036854775807,"
            "-2147483648,0.1,0.1,false,1969-12-31T23:59:59.999999Z,1969-12-31\n"
            ",,,,,,,\n"
            "\"\",-9223372036854775808,0,-0.25,1e-7,true,1970-01-01T00:00:00.000Z,1970-01-01\n"
            "\"a,b\r\nc\",-42,2147483647,1e+300,3.4e+38,false,1900-01-01T00:00:00.000001Z,1900-01-01\n");
}

// Quotes exactly where a reader needs them, and nowhere else.
TEST(CsvEncoderTest, StringsAreQuotedOnlyWhenAReaderNeedsIt) {
  auto column = make_array<arrow::StringBuilder, std::string>(
      arrow::utf8(), {"bare-id_7", "", " lead", "trail\t", "in side", "a,b", "say \"hi\"", "two\nlines", "cr\r", "null",
                      std::nullopt, "\xE6\x97\xA5\xE6\x9C\xAC"});
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("s", arrow::utf8())}), column->length(), {column});
  EXPECT_EQ(encode_csv(*batch, 0, batch->num_rows()),
            "s\nbare-id_7\n\"\"\n\" lead\"\n\"trail\t\"\nin side\n\"a,b\"\n\"say \"\"hi\"\"\"\n\"two\nlines\"\n"
            "\"cr\r\"\nnull\n\n\xE6\x97\xA5\xE6\x9C\xAC\n");
}

// The quoting check reads 8 bytes at a time: a delimiter, quote or line break is found at every
// position of strings of every length, and bytes of UTF-8 text next to it are not taken for one.
TEST(CsvEncoderTest, SpecialCharactersAreFoundAtEveryPosition) {
  for (size_t size = 1; size <= 40; ++size) {
    std::string base;
    for (size_t i = 0; i < size; ++i) base += i % 3 == 0 ? '\xE6' : static_cast<char>('a' + i % 26);
    for (size_t at = 0; at < size; ++at) {
      for (char special : {',', '"', '\n', '\r'}) {
        std::string value = base;
        value[at] = special;
        std::string quoted = "\"";
        for (char c : value) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        quoted += "\"";
        auto column = make_array<arrow::StringBuilder, std::string>(arrow::utf8(), {value, base});
        auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("s", arrow::utf8())}), 2, {column});
        ASSERT_EQ(encode_csv(*batch, 0, 2), "s\n" + quoted + "\n" + base + "\n") << size << " " << at;
      }
    }
  }
}

TEST(CsvEncoderTest, ReadBackByPyarrowAndDuckdbWithInferredTypes) {
  TempDir dir;
  auto batch = all_types_batch(false);
  const std::string path = dir.path() + "/part-00000000-00000-000.csv";
  const std::string bytes = encode_csv(*batch, 0, batch->num_rows());
  testing::write_bytes(path, bytes.data(), bytes.size());
  auto got = read_back("csv", path);
  ASSERT_EQ(got.exit_code, 0) << got.output;
  // CSV carries no types: int32 and float come back as the readers' widest inferred types.
  EXPECT_EQ(lines_starting_with(got.output, "pyarrow "),
            "pyarrow type s: string\n"
            "pyarrow type i64: int64\n"
            "pyarrow type i32: int64\n"
            "pyarrow type d: double\n"
            "pyarrow type f: double\n"
            "pyarrow type b: bool\n"
            "pyarrow type ts: timestamp[ns, tz=UTC]\n"
            "pyarrow type dt: date32[day]\n"
            "pyarrow row: 'plain' | 1 | 1 | 1.5 | 0.5 | True | 2025-11-06T12:30:00.123000+00:00 | 2025-11-06\n"
            "pyarrow row: 'h\\xe9llo \"q\", x\\ny \\u65e5\\u672c \\U0001f600' | 9223372036854775807 | -2147483648 | "
            "0.1 | 0.1 | False | 1969-12-31T23:59:59.999999+00:00 | 1969-12-31\n"
            "pyarrow row: None | None | None | None | None | None | None | None\n"
            "pyarrow row: '' | -9223372036854775808 | 0 | -0.25 | 1e-07 | True | 1970-01-01T00:00:00+00:00 | "
            "1970-01-01\n"
            "pyarrow row: 'a,b\\r\\nc' | -42 | 2147483647 | 1e+300 | 3.4e+38 | False | "
            "1900-01-01T00:00:00.000001+00:00 | 1900-01-01\n");
  EXPECT_EQ(lines_starting_with(got.output, "duckdb "),
            "duckdb type s: VARCHAR\n"
            "duckdb type i64: BIGINT\n"
            "duckdb type i32: BIGINT\n"
            "duckdb type d: DOUBLE\n"
            "duckdb type f: DOUBLE\n"
            "duckdb type b: BOOLEAN\n"
            "duckdb type ts: TIMESTAMP WITH TIME ZONE\n"
            "duckdb type dt: DATE\n"
            "duckdb row: 'plain' | '1' | '1' | '1.5' | '0.5' | 'true' | '2025-11-06 12:30:00.123+00' | '2025-11-06'\n"
            "duckdb row: 'h\\xe9llo \"q\", x\\ny \\u65e5\\u672c \\U0001f600' | '9223372036854775807' | "
            "'-2147483648' | '0.1' | '0.1' | 'false' | '1969-12-31 23:59:59.999999+00' | '1969-12-31'\n"
            "duckdb row: None | None | None | None | None | None | None | None\n"
            "duckdb row: '' | '-9223372036854775808' | '0' | '-0.25' | '1e-07' | 'true' | '1970-01-01 00:00:00+00' | "
            "'1970-01-01'\n"
            "duckdb row: 'a,b\\r\\nc' | '-42' | '2147483647' | '1e+300' | '3.4e+38' | 'false' | "
            "'1900-01-01 00:00:00.000001+00' | '1900-01-01'\n");
}

// Doubles keep every bit through text: shortest round-trip digits, parsed back to the same value.
TEST(CsvEncoderTest, DoublesRoundTripExactly) {
  std::vector<std::optional<double>> values = {
      0.1 + 0.2, 1.0 / 3.0, 123456789.123456789, 5e-324, std::numeric_limits<double>::max(), -2.5e-8, 1e21, 100.0};
  auto column = make_array<arrow::DoubleBuilder, double>(arrow::float64(), values);
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("value", arrow::float64())}),
                                        static_cast<int64_t>(values.size()), {column});
  std::string csv = encode_csv(*batch, 0, batch->num_rows());
  EXPECT_EQ(csv,
            "value\n0.30000000000000004\n0.3333333333333333\n123456789.12345679\n5e-324\n1.7976931348623157e+308\n"
            "-2.5e-8\n1e+21\n100\n");
  size_t pos = csv.find('\n') + 1;
  for (const auto& v : values) {
    size_t end = csv.find('\n', pos);
    EXPECT_EQ(std::strtod(csv.substr(pos, end - pos).c_str(), nullptr), *v);
    pos = end + 1;
  }
}

// JSON has no NaN or Infinity, so decoded events never carry them; if a batch does, this is
// what Arrow writes (DuckDB reads it back; Spark's CSV reader wants NaN/Inf and reads null).
TEST(CsvEncoderTest, NonFiniteDoublesAsArrowWritesThem) {
  auto column = make_array<arrow::DoubleBuilder, double>(
      arrow::float64(), {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                         -std::numeric_limits<double>::infinity()});
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("value", arrow::float64())}), 3, {column});
  EXPECT_EQ(encode_csv(*batch, 0, 3), "value\nnan\ninf\n-inf\n");
}

TEST(CsvEncoderTest, HeaderIsQuotedOnlyWhenANameNeedsIt) {
  auto column = make_array<arrow::Int64Builder, int64_t>(arrow::int64(), {1});
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("a,b", arrow::int64()), arrow::field("plain", arrow::int64())}), 1, {column, column});
  EXPECT_EQ(encode_csv(*batch, 0, 1), "\"a,b\",\"plain\"\n1,1\n");
}

// Types the schema never makes still get a cell: large strings as strings, others as Arrow casts
// them to text (the same text Arrow's own CSV writer wrote), rows counted from the file's slice.
TEST(CsvEncoderTest, OtherTypesAreWrittenAsArrowCastsThem) {
  auto big = make_array<arrow::UInt64Builder, uint64_t>(arrow::uint64(), {1, std::nullopt, 18446744073709551615ULL});
  auto text = make_array<arrow::LargeStringBuilder, std::string>(arrow::large_utf8(), {"a", "b,c", std::nullopt});
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("u", arrow::uint64()), arrow::field("l", arrow::large_utf8())}), 3, {big, text});
  EXPECT_EQ(encode_csv(*batch, 0, 3), "u,l\n1,a\n,\"b,c\"\n18446744073709551615,\n");
  EXPECT_EQ(encode_csv(*batch, 1, 2), "u,l\n,\"b,c\"\n18446744073709551615,\n");
}

TEST(CsvEncoderTest, SliceAndEmptySlice) {
  auto batch = all_types_batch(false);
  EXPECT_EQ(encode_csv(*batch, 2, 1), "s,i64,i32,d,f,b,ts,dt\n,,,,,,,\n");
  EXPECT_EQ(encode_csv(*batch, 5, 0), "s,i64,i32,d,f,b,ts,dt\n");
  auto encoder = make_csv_encoder();
  auto bad = encoder->encode(*batch, -1, 2);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().kind(), ErrorKind::kFatal);
}

// Timestamps in other units and years past 9999 (the decoder never makes them, the encoder
// still writes them faithfully). A timestamp type without a zone is TIMESTAMP_NTZ: no 'Z'.
TEST(CsvEncoderTest, TimestampUnitsAndExpandedYears) {
  auto ms = make_array<arrow::TimestampBuilder, int64_t>(arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"),
                                                         {1762432200123, -1});
  auto ns =
      make_array<arrow::TimestampBuilder, int64_t>(arrow::timestamp(arrow::TimeUnit::NANO), {1762432200123456789, -1});
  auto us = make_array<arrow::TimestampBuilder, int64_t>(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                                         {253402300800000000, -62198755200000000});
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("ms", ms->type()), arrow::field("ns", ns->type()), arrow::field("us", us->type())}),
      2, {ms, ns, us});
  EXPECT_EQ(encode_csv(*batch, 0, 2),
            "ms,ns,us\n"
            "2025-11-06T12:30:00.123Z,2025-11-06T12:30:00.123456,+10000-01-01T00:00:00.000Z\n"
            "1969-12-31T23:59:59.999Z,1969-12-31T23:59:59.999999,-0001-01-01T00:00:00.000Z\n");
}

TEST(CsvEncoderTest, DeterministicAndThreadSafe) {
  auto encoder = make_csv_encoder();
  auto batch = event_batch(20000);
  auto reference = encoder->encode(*batch, 1000, 9000);
  ASSERT_TRUE(reference.ok());
  std::vector<std::shared_ptr<arrow::Buffer>> results(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = encoder->encode(*batch, 1000, 9000);
      if (r.ok()) results[t] = *r;
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) {
    ASSERT_NE(r, nullptr);
    EXPECT_TRUE(r->Equals(**reference));
  }
  const std::string text = (*reference)->ToString();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 9001);
  EXPECT_TRUE(text.starts_with("event_id,ts,value,source\nrun-7f3a9c21-000000001000,2025-11-06T12:30:07.123Z,"))
      << text.substr(0, 200);
}

}  // namespace
}  // namespace kpipe
