#include "decode/record_decoder.h"

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include <arrow/array.h>
#include <arrow/type.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decode/timestamp.h"

namespace kpipe {
namespace {

using ::testing::HasSubstr;

constexpr const char* kEventSchema = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING";
constexpr const char* kEvent =
    R"({"event_id":"kp-1a2b-000000000001","ts":"2025-11-06T12:30:00.123Z","value":45.67,"source":"kpipe-producer"})";
// 2025-11-06T12:30:00.123Z and its UTC date.
constexpr int64_t kEventMicros = 1762432200123000;
constexpr int32_t kEventDay = 20398;

Schema must_parse(const char* ddl) {
  Result<Schema> schema = parse_ddl(ddl);
  if (!schema.ok()) ADD_FAILURE() << schema.status().message();
  return std::move(schema).value();
}

RecordDecoder make_decoder(const char* ddl = kEventSchema, const char* partition = "ts", DecodeLimits limits = {}) {
  Schema schema = must_parse(ddl);
  const int index = *find_partition_column(schema, partition);
  return RecordDecoder(std::move(schema), index, limits);
}

RawRecord raw(std::string_view payload, int64_t offset = 0, int32_t partition = 0) {
  RawRecord record;
  record.payload = payload;
  record.partition = partition;
  record.offset = offset;
  record.timestamp_ms = 1762432200999 + offset;
  return record;
}

DecodedBatch must_finish(RecordDecoder& decoder) {
  Result<DecodedBatch> batch = decoder.finish();
  if (!batch.ok()) ADD_FAILURE() << batch.status().message();
  return std::move(batch).value();
}

template <typename ArrayType>
const ArrayType& column(const DecodedBatch& batch, int i) {
  return static_cast<const ArrayType&>(*batch.rows->column(i));
}

std::string event(std::string_view id, std::string_view ts = "2025-11-06T12:30:00.123Z") {
  return R"({"event_id":")" + std::string(id) + R"(","ts":")" + std::string(ts) + R"(","value":1.5,"source":"p"})";
}

// Decodes one payload alone and returns its single BadRecord's reason ("" if it was good).
std::string reason_for(RecordDecoder& decoder, std::string_view payload) {
  decoder.add(raw(payload, 7, 2));
  DecodedBatch batch = must_finish(decoder);
  if (batch.bad.size() != 1) {
    ADD_FAILURE() << "expected one bad record for " << payload.substr(0, 200) << ", got " << batch.bad.size();
    return "";
  }
  EXPECT_EQ(batch.rows->num_rows(), 0);
  EXPECT_TRUE(batch.dt_days.empty());
  const BadRecord& bad = batch.bad[0];
  EXPECT_EQ(bad.partition, 2);
  EXPECT_EQ(bad.offset, 7);
  EXPECT_EQ(bad.timestamp_ms, 1762432200999 + 7);
  EXPECT_EQ(bad.payload, payload);
  return bad.reason;
}

TEST(RecordDecoder, GoodBatchHasSchemaTypesAndValues) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(kEvent, 0));
  decoder.add(raw(R"({"event_id":"b","ts":"2025-11-06T23:30:00-02:00","value":-1,"source":"s2"})", 1));
  EXPECT_EQ(decoder.good_rows(), 2u);
  EXPECT_EQ(decoder.bad_rows(), 0u);

  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 2);
  EXPECT_TRUE(batch.rows->schema()->Equals(*must_parse(kEventSchema).arrow_schema));
  ASSERT_TRUE(batch.rows->ValidateFull().ok());
  EXPECT_EQ(batch.rows->column(1)->type()->ToString(), "timestamp[us, tz=UTC]");

  const auto& ids = column<arrow::StringArray>(batch, 0);
  const auto& ts = column<arrow::TimestampArray>(batch, 1);
  const auto& values = column<arrow::DoubleArray>(batch, 2);
  const auto& sources = column<arrow::StringArray>(batch, 3);
  EXPECT_EQ(ids.GetView(0), "kp-1a2b-000000000001");
  EXPECT_EQ(ts.Value(0), kEventMicros);
  EXPECT_DOUBLE_EQ(values.Value(0), 45.67);
  EXPECT_EQ(sources.GetView(0), "kpipe-producer");
  EXPECT_EQ(ids.GetView(1), "b");
  EXPECT_EQ(ts.Value(1), 1762479000000000);
  EXPECT_DOUBLE_EQ(values.Value(1), -1.0);
  EXPECT_EQ(batch.rows->column(0)->null_count(), 0);

  // The second event is 23:30 at UTC-2, so its dt is the next UTC day.
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kEventDay, kEventDay + 1}));
  EXPECT_TRUE(batch.bad.empty());
}

struct BadCase {
  const char* name;
  std::string payload;
  std::string reason;  // expected substring
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class RecordDecoderBadCase : public ::testing::TestWithParam<BadCase> {};

TEST_P(RecordDecoderBadCase, GivesOneBadRecordWithItsReason) {
  RecordDecoder decoder = make_decoder();
  EXPECT_THAT(reason_for(decoder, GetParam().payload), HasSubstr(GetParam().reason));
}

const BadCase kBadCases[] = {
    {"EmptyMessage", "", "empty message"},
    {"OnlyWhitespace", " \n ", "empty message (only whitespace)"},
    {"TruncatedJson", R"({"event_id":"a","ts":"2025-11-06T12:30:00Z",)", "malformed JSON"},
    {"UnclosedObject", R"({"event_id":"a","ts":"2025-11-06T12:30:00Z")", "malformed JSON"},
    {"MissingColon", R"({"event_id" "a"})", "malformed JSON"},
    {"TrailingComma", R"({"event_id":"a",})", "malformed JSON"},
    {"UnterminatedString", R"({"event_id":"a)", "malformed JSON"},
    {"TrailingGarbage", std::string(kEvent) + "}", "malformed JSON: unexpected '}' after the object"},
    {"TwoObjects", std::string(kEvent) + std::string(kEvent), "malformed JSON: unexpected"},
    {"JsonArray", std::string("[") + kEvent + "]", "not a JSON object (got array)"},
    {"JsonNumber", "42", "not a JSON object (got number)"},
    {"JsonString", R"("hello")", "not a JSON object (got string)"},
    {"JsonNull", "null", "not a JSON object (got null)"},
    {"JsonTrue", "true", "not a JSON object (got boolean)"},
    {"NotJsonAtAll", "hello world", "malformed JSON"},
    {"NotJsonStartingLikeNull", "not json", "malformed JSON"},
    {"NotJsonStartingLikeTrue", "tru", "malformed JSON"},
    {"NotJsonStartingLikeNumber", "-x", "malformed JSON"},
    {"InvalidUtf8InValue", "{\"event_id\":\"\xff\xfe\",\"ts\":\"2025-11-06T12:30:00Z\"}", "invalid UTF-8"},
    {"InvalidUtf8InIgnoredKey", "{\"\xc3\x28\":1,\"ts\":\"2025-11-06T12:30:00Z\"}", "invalid UTF-8"},
    {"OverlongUtf8", "{\"event_id\":\"\xc0\xaf\",\"ts\":\"2025-11-06T12:30:00Z\"}", "invalid UTF-8"},
    {"LoneSurrogateEscape", R"({"event_id":"\udc00","ts":"2025-11-06T12:30:00Z"})",
     "malformed JSON in field 'event_id'"},
    {"BadEscape", R"({"source":"a\qb","ts":"2025-11-06T12:30:00Z"})", "malformed JSON in field 'source'"},
    {"UnescapedControlChar", "{\"event_id\":\"a\x01\",\"ts\":\"2025-11-06T12:30:00Z\"}", "malformed JSON"},
    {"ValueAsString", R"({"event_id":"a","ts":"2025-11-06T12:30:00Z","value":"45.67"})",
     "field 'value': expected DOUBLE, got string"},
    {"ValueAsBoolean", R"({"event_id":"a","ts":"2025-11-06T12:30:00Z","value":true})",
     "field 'value': expected DOUBLE, got boolean"},
    {"ValueOverflows", R"({"event_id":"a","ts":"2025-11-06T12:30:00Z","value":1e400})",
     "field 'value': '1e400' is not a valid DOUBLE (malformed or out of range)"},
    {"ValueMalformedNumber", R"({"event_id":"a","ts":"2025-11-06T12:30:00Z","value":01})",
     "field 'value': '01' is not a valid DOUBLE"},
    {"EventIdAsObject", R"({"event_id":{"x":1},"ts":"2025-11-06T12:30:00Z"})",
     "field 'event_id': expected STRING, got object"},
    {"EventIdAsArray", R"({"event_id":[],"ts":"2025-11-06T12:30:00Z"})",
     "field 'event_id': expected STRING, got array"},
    {"MissingTs", R"({"event_id":"a","value":1.0,"source":"p"})", "missing partition column 'ts'"},
    {"NullTs", R"({"event_id":"a","ts":null})", "missing partition column 'ts' (null)"},
    {"TsYear99999", R"({"event_id":"a","ts":"99999-01-01T00:00:00Z"})",
     "field 'ts': '99999-01-01T00:00:00Z' is not a valid TIMESTAMP (ISO-8601 such as "
     "2025-11-06T12:30:00.123Z, years 0001-9999)"},
    {"TsFeb30", R"({"ts":"2025-02-30T00:00:00Z"})", "field 'ts': '2025-02-30T00:00:00Z' is not a valid TIMESTAMP"},
    {"TsGarbage", R"({"ts":"yesterday"})", "field 'ts': 'yesterday' is not a valid TIMESTAMP"},
    {"TsFractionalMillis", R"({"ts":1762432200123.5})",
     "field 'ts': expected TIMESTAMP, got number 1762432200123.5 (not an integer)"},
    {"TsMillisOutOfRange", R"({"ts":253402300800000})",
     "field 'ts': 253402300800000 is out of TIMESTAMP range (epoch milliseconds for years 0001-9999)"},
    {"TsMillisOverflow", R"({"ts":99999999999999999999})",
     "field 'ts': expected TIMESTAMP, got number 99999999999999999999 (out of range)"},
    {"TsAsBoolean", R"({"ts":false})", "field 'ts': expected TIMESTAMP, got boolean"},
    {"TsAsObject", R"({"ts":{"$date":"2025-11-06"}})", "field 'ts': expected TIMESTAMP, got object"},
    {"DuplicateSchemaKey", R"({"ts":"2025-11-06T12:30:00Z","value":1,"value":2})",
     "field 'value' appears more than once"},
    {"MalformedIgnoredScalar", R"({"ts":"2025-11-06T12:30:00Z","extra":tru})", "malformed JSON: 'tru'"},
    {"MalformedIgnoredNested", R"({"ts":"2025-11-06T12:30:00Z","extra":{"a":[1,2,nul]}})", "malformed JSON"},
    {"MalformedIgnoredNumber", R"({"ts":"2025-11-06T12:30:00Z","extra":-})", "malformed JSON"},
    {"BadEscapeInIgnoredKey", R"({"ts":"2025-11-06T12:30:00Z","a\qb":1})", "malformed JSON"},
    {"MalformedNull", R"({"ts":"2025-11-06T12:30:00Z","value":nul})", "malformed JSON in field 'value'"},
    {"StringOverMaxStringBytes", R"({"ts":"2025-11-06T12:30:00Z","source":")" + std::string(100000, 'x') + "\"}",
     "field 'source': string is 100000 bytes, over MAX_STRING_BYTES=65536"},
    {"OneMegabyteString", R"({"ts":"2025-11-06T12:30:00Z","source":")" + std::string(1 << 20, 'x') + "\"}",
     "record is 1048617 bytes, over MAX_RECORD_BYTES=1048576"},
};

INSTANTIATE_TEST_SUITE_P(Payloads, RecordDecoderBadCase, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(RecordDecoder, GoodRowsAroundBadOnesAreIntactAndInOrder) {
  RecordDecoder decoder = make_decoder();
  const std::vector<std::string> payloads = {
      event("g0"),
      // Valid up to the last field: nothing of it may reach the builders.
      R"({"event_id":"bad1","ts":"2025-11-06T12:30:00Z","value":2.5,"source":{"nested":1}})",
      event("g1", "2025-11-07T01:00:00Z"),
      R"({"event_id":"bad2","ts":"2025-11-06T12:30:00Z","value":"x"})",
      "not json",
      event("g2", "2025-11-05T23:59:59.999999Z"),
  };
  for (size_t i = 0; i < payloads.size(); ++i) decoder.add(raw(payloads[i], static_cast<int64_t>(100 + i), 1));
  EXPECT_EQ(decoder.good_rows(), 3u);
  EXPECT_EQ(decoder.bad_rows(), 3u);

  const DecodedBatch batch = must_finish(decoder);
  ASSERT_TRUE(batch.rows->ValidateFull().ok());
  ASSERT_EQ(batch.rows->num_rows(), 3);
  for (int c = 0; c < batch.rows->num_columns(); ++c) EXPECT_EQ(batch.rows->column(c)->length(), 3);
  const auto& ids = column<arrow::StringArray>(batch, 0);
  EXPECT_EQ(ids.GetView(0), "g0");
  EXPECT_EQ(ids.GetView(1), "g1");
  EXPECT_EQ(ids.GetView(2), "g2");
  const auto& values = column<arrow::DoubleArray>(batch, 2);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(values.Value(i), 1.5);
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kEventDay, kEventDay + 1, kEventDay - 1}));

  ASSERT_EQ(batch.bad.size(), 3u);
  EXPECT_EQ(batch.bad[0].offset, 101);
  EXPECT_EQ(batch.bad[0].partition, 1);
  EXPECT_EQ(batch.bad[0].payload, payloads[1]);
  EXPECT_EQ(batch.bad[0].reason, "field 'source': expected STRING, got object");
  EXPECT_EQ(batch.bad[1].offset, 103);
  EXPECT_EQ(batch.bad[1].reason, "field 'value': expected DOUBLE, got string");
  EXPECT_EQ(batch.bad[2].offset, 104);
  EXPECT_THAT(batch.bad[2].reason, HasSubstr("malformed JSON"));
}

TEST(RecordDecoder, MissingAndNullFieldsAreNull) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(R"({"ts":"2025-11-06T12:30:00.123Z"})"));
  decoder.add(raw(R"({"event_id":null,"ts":"2025-11-06T12:30:00.123Z","value":null,"source":"s"})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 2);
  ASSERT_TRUE(batch.rows->ValidateFull().ok());
  EXPECT_TRUE(batch.rows->column(0)->IsNull(0));
  EXPECT_TRUE(batch.rows->column(2)->IsNull(0));
  EXPECT_TRUE(batch.rows->column(3)->IsNull(0));
  EXPECT_TRUE(batch.rows->column(0)->IsNull(1));
  EXPECT_TRUE(batch.rows->column(2)->IsNull(1));
  EXPECT_FALSE(batch.rows->column(3)->IsNull(1));
  EXPECT_EQ(column<arrow::TimestampArray>(batch, 1).Value(1), kEventMicros);
}

TEST(RecordDecoder, ExtraFieldsAnyOrderAndEscapedKeys) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(R"( { "source" : "s", "extra": {"deep": [1, 2.5e3, true, null, "x", {"k": []}]},
                       "value": 2, "ts": "2025-11-06T12:30:00.123Z", "event\u005fid": "escaped-key",
                       "other": -0.0 } )"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 1) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  EXPECT_EQ(column<arrow::StringArray>(batch, 0).GetView(0), "escaped-key");
  EXPECT_DOUBLE_EQ(column<arrow::DoubleArray>(batch, 2).Value(0), 2.0);
  EXPECT_EQ(column<arrow::StringArray>(batch, 3).GetView(0), "s");
}

TEST(RecordDecoder, FieldNamesAreCaseSensitive) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(R"({"Event_Id":"x","TS":"2025-11-06T12:30:00Z","ts":"2025-11-06T12:30:00Z"})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 1);
  EXPECT_TRUE(batch.rows->column(0)->IsNull(0));
}

TEST(RecordDecoder, StringEscapesAreUnescaped) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(R"({"event_id":"a\"b\\c\/d\u00e9\n\t\ud83d\ude00\u0000z","ts":"2025-11-06T12:30:00Z"})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 1);
  EXPECT_EQ(column<arrow::StringArray>(batch, 0).GetView(0),
            std::string_view("a\"b\\c/d\xc3\xa9\n\t\xf0\x9f\x98\x80\0z", 17));
}

TEST(RecordDecoder, NumbersAndBooleansBecomeTheirJsonTextInStringColumns) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(R"({"event_id":12345678901234567890123,"ts":"2025-11-06T12:30:00Z","source":true })"));
  decoder.add(raw(R"({"event_id":1.50 ,"ts":"2025-11-06T12:30:00Z","source":false})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 2) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  const auto& ids = column<arrow::StringArray>(batch, 0);
  const auto& sources = column<arrow::StringArray>(batch, 3);
  EXPECT_EQ(ids.GetView(0), "12345678901234567890123");
  EXPECT_EQ(sources.GetView(0), "true");
  EXPECT_EQ(ids.GetView(1), "1.50");
  EXPECT_EQ(sources.GetView(1), "false");
}

// Found by fuzzing: simdjson On-Demand reports NUMBER_ERROR for these valid JSON numbers.
TEST(RecordDecoder, RegressionHugeExponentsAreValidNumbers) {
  RecordDecoder decoder = make_decoder();
  EXPECT_EQ(reason_for(decoder, R"({"ts":"2025-11-06T12:30:00Z","value":1e39999999999999999999})").substr(0, 30),
            "field 'value': '1e399999999999");
  decoder.add(raw(R"({"ts":"2025-11-06T12:30:00Z","value":0e39999999999999999999,"x":[0e39999999999999999999]})"));
  decoder.add(
      raw(R"({"ts":"2025-11-06T12:30:00Z","value":-1e-99999999999999999999,"event_id":0E+39999999999999999999})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 2) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  EXPECT_EQ(column<arrow::DoubleArray>(batch, 2).Value(0), 0.0);
  EXPECT_EQ(column<arrow::DoubleArray>(batch, 2).Value(1), 0.0);
  EXPECT_TRUE(std::signbit(column<arrow::DoubleArray>(batch, 2).Value(1)));
  EXPECT_EQ(column<arrow::StringArray>(batch, 0).GetView(1), "0E+39999999999999999999");
}

TEST(RecordDecoder, TimestampAsEpochMilliseconds) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(R"({"ts":1762432200123})"));
  decoder.add(raw(R"({"ts":-1})"));
  decoder.add(raw(R"({"ts":-62135596800000})"));
  decoder.add(raw(R"({"ts":253402300799999})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 4) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  const auto& ts = column<arrow::TimestampArray>(batch, 1);
  EXPECT_EQ(ts.Value(0), kEventMicros);
  EXPECT_EQ(ts.Value(1), -1000);
  EXPECT_EQ(ts.Value(2), kMinTimestampMicros);
  EXPECT_EQ(ts.Value(3), kMaxTimestampMicros - 999);
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kEventDay, -1, -719162, 2932896}));
}

constexpr const char* kAllTypes = "s STRING, l BIGINT, i INT, d DOUBLE, f FLOAT, b BOOLEAN, ts TIMESTAMP, day DATE";

TEST(RecordDecoder, AllTypesDecode) {
  RecordDecoder decoder = make_decoder(kAllTypes);
  decoder.add(raw(R"({"s":"x","l":-9223372036854775808,"i":2147483647,"d":5,"f":1.5,"b":true,)"
                  R"("ts":"2025-11-06 12:30:00","day":"2000-02-29"})"));
  decoder.add(raw(R"({"l":9223372036854775807,"i":-2147483648,"d":-2.5e-3,"f":-3,"b":false,)"
                  R"("ts":"1969-12-31T23:59:59Z"})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 2) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  ASSERT_TRUE(batch.rows->ValidateFull().ok());
  EXPECT_EQ(batch.rows->schema()->ToString(),
            "s: string\nl: int64\ni: int32\nd: double\nf: float\nb: bool\n"
            "ts: timestamp[us, tz=UTC]\nday: date32[day]");
  EXPECT_EQ(column<arrow::Int64Array>(batch, 1).Value(0), INT64_MIN);
  EXPECT_EQ(column<arrow::Int64Array>(batch, 1).Value(1), INT64_MAX);
  EXPECT_EQ(column<arrow::Int32Array>(batch, 2).Value(0), INT32_MAX);
  EXPECT_EQ(column<arrow::Int32Array>(batch, 2).Value(1), INT32_MIN);
  EXPECT_DOUBLE_EQ(column<arrow::DoubleArray>(batch, 3).Value(0), 5.0);
  EXPECT_DOUBLE_EQ(column<arrow::DoubleArray>(batch, 3).Value(1), -2.5e-3);
  EXPECT_FLOAT_EQ(column<arrow::FloatArray>(batch, 4).Value(0), 1.5f);
  EXPECT_FLOAT_EQ(column<arrow::FloatArray>(batch, 4).Value(1), -3.0f);
  EXPECT_TRUE(column<arrow::BooleanArray>(batch, 5).Value(0));
  EXPECT_FALSE(column<arrow::BooleanArray>(batch, 5).Value(1));
  EXPECT_EQ(column<arrow::Date32Array>(batch, 7).Value(0), 11016);
  EXPECT_TRUE(batch.rows->column(7)->IsNull(1));
  EXPECT_TRUE(batch.rows->column(0)->IsNull(1));
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kEventDay, -1}));
}

TEST(RecordDecoder, WrongTypesForEachColumnType) {
  RecordDecoder decoder = make_decoder(kAllTypes);
  const std::string ts = R"("ts":"2025-11-06T12:30:00Z")";
  auto reason = [&](const std::string& field) { return reason_for(decoder, "{" + ts + "," + field + "}"); };
  EXPECT_EQ(reason(R"("l":1.5)"), "field 'l': expected BIGINT, got number 1.5 (not an integer)");
  EXPECT_EQ(reason(R"("l":1e3)"), "field 'l': expected BIGINT, got number 1e3 (not an integer)");
  EXPECT_EQ(reason(R"("l":9223372036854775808)"),
            "field 'l': expected BIGINT, got number 9223372036854775808 (out of range)");
  EXPECT_EQ(reason(R"("l":"12")"), "field 'l': expected BIGINT, got string");
  EXPECT_EQ(reason(R"("i":2147483648)"), "field 'i': expected INT, got number 2147483648 (out of range)");
  EXPECT_EQ(reason(R"("i":-2147483649)"), "field 'i': expected INT, got number -2147483649 (out of range)");
  EXPECT_EQ(reason(R"("i":true)"), "field 'i': expected INT, got boolean");
  EXPECT_EQ(reason(R"("d":[1])"), "field 'd': expected DOUBLE, got array");
  EXPECT_EQ(reason(R"("f":1e39)"), "field 'f': '1e39' is out of FLOAT range");
  EXPECT_EQ(reason(R"("f":"1.5")"), "field 'f': expected FLOAT, got string");
  EXPECT_EQ(reason(R"("b":"true")"), "field 'b': expected BOOLEAN, got string");
  EXPECT_EQ(reason(R"("b":1)"), "field 'b': expected BOOLEAN, got number");
  EXPECT_EQ(reason(R"("day":"2025-11-06T00:00:00Z")"),
            "field 'day': '2025-11-06T00:00:00Z' is not a valid DATE (YYYY-MM-DD, years 0001-9999)");
  EXPECT_EQ(reason(R"("day":20398)"), "field 'day': expected DATE, got number");
  EXPECT_THAT(reason(R"("s":")" + std::string(70000, 'y') + "\"}"), HasSubstr("field 's': string is 70000 bytes"));
}

TEST(RecordDecoder, LongValuesAreCutInReasonsAtACharacterBoundary) {
  RecordDecoder decoder = make_decoder();
  std::string long_ts;
  for (int i = 0; i < 40; ++i) long_ts += "\xc3\xa9";  // 80 bytes of 2-byte characters
  const std::string reason = reason_for(decoder, R"({"ts":")" + long_ts + "\"}");
  EXPECT_EQ(reason, "field 'ts': '" + long_ts.substr(0, 64) +
                        "...' (80 bytes) is not a valid TIMESTAMP "
                        "(ISO-8601 such as 2025-11-06T12:30:00.123Z, years 0001-9999)");
}

TEST(RecordDecoder, DatePartitionColumn) {
  RecordDecoder decoder = make_decoder("id STRING, day DATE, ts TIMESTAMP", "day");
  EXPECT_EQ(reason_for(decoder, R"({"id":"a","ts":"2025-11-01T00:00:00Z"})"), "missing partition column 'day'");
  decoder.add(raw(R"({"id":"a","day":"2025-11-06","ts":"2025-11-01T00:00:00Z"})"));
  decoder.add(raw(R"({"id":"b","day":"1969-12-31"})"));
  const DecodedBatch batch = must_finish(decoder);
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kEventDay, -1}));
}

TEST(RecordDecoder, NotNullColumnsAreEnforced) {
  RecordDecoder decoder = make_decoder("id STRING NOT NULL, ts TIMESTAMP, v DOUBLE");
  EXPECT_EQ(reason_for(decoder, R"({"ts":"2025-11-06T12:30:00Z"})"), "field 'id' is NOT NULL but missing");
  EXPECT_EQ(reason_for(decoder, R"({"id":null,"ts":"2025-11-06T12:30:00Z"})"), "field 'id' is NOT NULL but null");
  decoder.add(raw(R"({"id":"x","ts":"2025-11-06T12:30:00Z"})"));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 1);
  EXPECT_FALSE(batch.rows->schema()->field(0)->nullable());
  EXPECT_TRUE(batch.rows->ValidateFull().ok());
}

TEST(RecordDecoder, FinishResetsAndTheNextBatchIsCorrect) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(event("first-0"), 0));
  decoder.add(raw("[]", 1));
  decoder.add(raw(event("first-1"), 2));
  const DecodedBatch first = must_finish(decoder);
  EXPECT_EQ(decoder.good_rows(), 0u);
  EXPECT_EQ(decoder.bad_rows(), 0u);

  for (int i = 0; i < 5000; ++i) decoder.add(raw(event("second-" + std::to_string(i)), 10 + i));
  decoder.add(raw("{", 9999));
  const DecodedBatch second = must_finish(decoder);

  // The first batch's arrays own their buffers: decoding more must not change them.
  ASSERT_EQ(first.rows->num_rows(), 2);
  EXPECT_EQ(column<arrow::StringArray>(first, 0).GetView(0), "first-0");
  EXPECT_EQ(column<arrow::StringArray>(first, 0).GetView(1), "first-1");
  ASSERT_EQ(first.bad.size(), 1u);
  EXPECT_EQ(first.bad[0].offset, 1);

  ASSERT_EQ(second.rows->num_rows(), 5000);
  ASSERT_TRUE(second.rows->ValidateFull().ok());
  EXPECT_EQ(column<arrow::StringArray>(second, 0).GetView(0), "second-0");
  EXPECT_EQ(column<arrow::StringArray>(second, 0).GetView(4999), "second-4999");
  EXPECT_EQ(second.dt_days.size(), 5000u);
  ASSERT_EQ(second.bad.size(), 1u);
  EXPECT_EQ(second.bad[0].offset, 9999);

  const DecodedBatch empty = must_finish(decoder);
  EXPECT_EQ(empty.rows->num_rows(), 0);
  EXPECT_EQ(empty.rows->num_columns(), 4);
  EXPECT_TRUE(empty.dt_days.empty());
  EXPECT_TRUE(empty.bad.empty());
}

TEST(RecordDecoder, ReadsOnlyThePayloadViewNotTheBytesAfterIt) {
  RecordDecoder decoder = make_decoder();
  const std::string buffer = std::string(kEvent) + R"(GARBAGE", "value": "oops"})";
  decoder.add(raw(std::string_view(buffer).substr(0, std::string_view(kEvent).size())));
  const DecodedBatch batch = must_finish(decoder);
  EXPECT_EQ(batch.rows->num_rows(), 1);
}

TEST(RecordDecoder, RecordsOfGrowingSizeAndLimits) {
  DecodeLimits limits;
  limits.max_record_bytes = 4 << 20;
  limits.max_string_bytes = 3 << 20;
  RecordDecoder decoder = make_decoder(kEventSchema, "ts", limits);
  for (size_t size : {10u, 70000u, 300000u, 1000000u, 3000000u, 100u}) {
    decoder.add(raw(R"({"ts":"2025-11-06T12:30:00Z","source":")" + std::string(size, 'z') + "\"}"));
  }
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 6) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  EXPECT_EQ(column<arrow::StringArray>(batch, 3).GetView(4).size(), 3000000u);

  DecodeLimits tiny;
  tiny.max_record_bytes = 100;
  RecordDecoder small = make_decoder(kEventSchema, "ts", tiny);
  EXPECT_EQ(reason_for(small, std::string(kEvent)), "record is 107 bytes, over MAX_RECORD_BYTES=100");
}

TEST(RecordDecoder, WideSchemaMatchesKeysInAnyOrder) {
  std::string ddl = "ts TIMESTAMP";
  for (int i = 0; i < 30; ++i) ddl += ", c" + std::to_string(i) + " INT";
  RecordDecoder decoder = make_decoder(ddl.c_str());
  std::string payload = "{";
  for (int i = 29; i >= 0; --i) payload += "\"c" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  payload += R"("zzz":1,"ts":"2025-11-06T12:30:00Z"})";
  decoder.add(raw(payload));
  const DecodedBatch batch = must_finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 1) << (batch.bad.empty() ? "" : batch.bad[0].reason);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(column<arrow::Int32Array>(batch, i + 1).Value(0), i);
}

TEST(RecordDecoder, DeepNestingInIgnoredFieldsNeverCrashes) {
  RecordDecoder decoder = make_decoder();
  const std::string ok_payload =
      R"({"ts":"2025-11-06T12:30:00Z","x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  decoder.add(raw(ok_payload));
  const std::string limit =
      R"({"ts":"2025-11-06T12:30:00Z","x":)" + std::string(1000, '[') + std::string(1000, ']') + "}";
  decoder.add(raw(limit));
  for (size_t depth : {1001u, 1024u, 1025u, 100000u}) {
    decoder.add(raw(R"({"ts":"2025-11-06T12:30:00Z","x":)" + std::string(depth, '[') + std::string(depth, ']') + "}"));
    decoder.add(raw(R"({"ts":"2025-11-06T12:30:00Z","x":)" + std::string(depth, '[')));
  }
  decoder.add(raw(std::string(100000, '[') + std::string(100000, ']')));
  const DecodedBatch batch = must_finish(decoder);
  EXPECT_EQ(batch.rows->num_rows(), 2);
  ASSERT_EQ(batch.bad.size(), 9u);
  for (const BadRecord& bad : batch.bad) EXPECT_THAT(bad.reason, HasSubstr("JSON")) << bad.reason;
}

TEST(RecordDecoder, BufferedBytesGrowsWithRows) {
  RecordDecoder decoder = make_decoder();
  const size_t empty = decoder.buffered_bytes();
  for (int i = 0; i < 100; ++i) decoder.add(raw(kEvent));
  EXPECT_GT(decoder.buffered_bytes(), empty + 100 * 20);
}

TEST(RecordDecoder, RejectsAPartitionColumnThatIsNotTimestampOrDate) {
  EXPECT_THROW(RecordDecoder(must_parse(kEventSchema), 0, DecodeLimits{}), std::invalid_argument);
  EXPECT_THROW(RecordDecoder(must_parse(kEventSchema), 4, DecodeLimits{}), std::invalid_argument);
  EXPECT_THROW(RecordDecoder(must_parse(kEventSchema), -2, DecodeLimits{}), std::invalid_argument);  // -1: Kafka time
}

TEST(RecordDecoder, IsMovable) {
  RecordDecoder decoder = make_decoder();
  decoder.add(raw(kEvent));
  RecordDecoder moved = std::move(decoder);
  moved.add(raw(kEvent));
  EXPECT_EQ(must_finish(moved).rows->num_rows(), 2);
}

}  // namespace
}  // namespace kpipe
