// RecordDecoder on nested schemas (STRUCT, ARRAY, MAP at any depth) and the newer leaf types
// (DECIMAL, SMALLINT, TINYINT, BINARY, TIMESTAMP_NTZ): values read back from the Arrow arrays and
// compared with what was sent, and every error path with the path of the field in its reason.
//
// Schemas are built by hand as ColumnSpec trees (the DDL parser for nested types is tested on
// its own); column 0 is always `ts TIMESTAMP`, the partition column.
#include <string>
#include <utility>
#include <vector>

#include <arrow/array.h>
#include <arrow/json/from_string.h>
#include <arrow/type.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decode/record_decoder.h"

namespace kpipe {
namespace {

using ::testing::HasSubstr;

constexpr const char* kTs = R"("ts":"2025-11-06T12:30:00Z")";

ColumnSpec leaf(std::string name, ColumnType type, bool nullable = true) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  c.nullable = nullable;
  return c;
}

ColumnSpec decimal(std::string name, int precision, int scale) {
  ColumnSpec c = leaf(std::move(name), ColumnType::kDecimal);
  c.precision = precision;
  c.scale = scale;
  return c;
}

ColumnSpec struct_of(std::string name, std::vector<ColumnSpec> fields, bool nullable = true) {
  ColumnSpec c = leaf(std::move(name), ColumnType::kStruct, nullable);
  c.children = std::move(fields);
  return c;
}

ColumnSpec array_of(std::string name, ColumnSpec element) {
  ColumnSpec c = leaf(std::move(name), ColumnType::kArray);
  element.name = "element";
  c.children.push_back(std::move(element));
  return c;
}

ColumnSpec map_of(std::string name, ColumnSpec value) {
  ColumnSpec c = leaf(std::move(name), ColumnType::kMap);
  c.children.push_back(leaf("key", ColumnType::kString, false));
  value.name = "value";
  c.children.push_back(std::move(value));
  return c;
}

RecordDecoder decoder_for(std::vector<ColumnSpec> columns, DecodeLimits limits = {}) {
  Schema schema;
  schema.columns.push_back(leaf("ts", ColumnType::kTimestamp));
  for (ColumnSpec& c : columns) schema.columns.push_back(std::move(c));
  schema.arrow_schema = arrow_schema(schema.columns);
  return RecordDecoder(std::move(schema), 0, limits);
}

RawRecord raw(const std::string& payload, int64_t offset = 0) {
  RawRecord record;
  record.payload = payload;
  record.offset = offset;
  return record;
}

// `{"ts": ..., <body>}`
std::string with_ts(std::string_view body) {
  return "{" + std::string(kTs) + (body.empty() ? "" : ",") + std::string(body) + "}";
}

DecodedBatch decode(RecordDecoder& decoder, const std::vector<std::string>& bodies) {
  std::vector<std::string> payloads;
  for (const std::string& body : bodies) payloads.push_back(with_ts(body));
  for (size_t i = 0; i < payloads.size(); ++i) decoder.add(raw(payloads[i], static_cast<int64_t>(i)));
  Result<DecodedBatch> batch = decoder.finish();
  if (!batch.ok()) ADD_FAILURE() << batch.status().message();
  const arrow::Status valid = batch->rows->ValidateFull();
  EXPECT_TRUE(valid.ok()) << valid.ToString();
  return std::move(batch).value();
}

// Column `i` of the batch equals the Arrow JSON text `expected` (maps as [[key, value], ...]).
void expect_column(const DecodedBatch& batch, int i, const std::string& expected) {
  const std::shared_ptr<arrow::Array>& actual = batch.rows->column(i);
  auto want = arrow::json::ArrayFromJSONString(actual->type(), expected);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  EXPECT_TRUE(actual->Equals(**want)) << "column " << batch.rows->schema()->field(i)->name()
                                      << "\n got:  " << actual->ToString() << "\n want: " << (*want)->ToString();
}

std::string first_error(const DecodedBatch& batch) { return batch.bad.empty() ? "" : batch.bad[0].reason; }

// The reason one body gives alone ("" and a test failure if it decodes).
std::string reason(std::vector<ColumnSpec> columns, std::string_view body, DecodeLimits limits = {}) {
  RecordDecoder decoder = decoder_for(std::move(columns), limits);
  const DecodedBatch batch = decode(decoder, {std::string(body)});
  EXPECT_EQ(batch.rows->num_rows(), 0) << body;
  return first_error(batch);
}

std::vector<ColumnSpec> issue_columns() {
  return {
      struct_of("user", {leaf("id", ColumnType::kInt64), array_of("tags", leaf("", ColumnType::kString))}),
      array_of("items", struct_of("", {leaf("sku", ColumnType::kString), decimal("price", 10, 2)})),
      map_of("attrs", leaf("", ColumnType::kString)),
  };
}

TEST(NestedDecode, TheIssuesEventFieldByField) {
  RecordDecoder decoder = decoder_for(issue_columns());
  const DecodedBatch batch = decode(
      decoder,
      {R"("user": {"id": 7, "tags": ["a", "b"]}, "items": [{"sku": "x", "price": "12.30"}], "attrs": {"k": "v"})",
       R"("items": [{"price": 0.5, "sku": "y"}, {"sku": null}, null], "user": {"tags": []}, "attrs": {})",
       R"("user": null, "items": [], "attrs": null)", ""});
  ASSERT_EQ(batch.rows->num_rows(), 4) << first_error(batch);
  EXPECT_EQ(batch.rows->schema()->field(1)->type()->ToString(), "struct<id: int64, tags: list<element: string>>");
  EXPECT_EQ(batch.rows->schema()->field(2)->type()->ToString(),
            "list<element: struct<sku: string, price: decimal128(10, 2)>>");
  EXPECT_EQ(batch.rows->schema()->field(3)->type()->ToString(), "map<string, string>");
  expect_column(batch, 1, R"([{"id": 7, "tags": ["a", "b"]}, {"id": null, "tags": []}, null, null])");
  expect_column(
      batch, 2,
      R"([[{"sku": "x", "price": "12.30"}], [{"sku": "y", "price": "0.50"}, {"sku": null, "price": null}, null],
                    [], null])");
  expect_column(batch, 3, R"([[["k", "v"]], [], null, null])");
}

TEST(NestedDecode, StructsAtDepthTakeKeysInAnyOrderAndIgnoreUnknownOnes) {
  RecordDecoder decoder = decoder_for(
      {struct_of("a", {leaf("x", ColumnType::kInt32),
                       struct_of("b", {leaf("y", ColumnType::kString), leaf("z", ColumnType::kBoolean)})})});
  const DecodedBatch batch =
      decode(decoder, {R"("a": {"b": {"z": true, "extra": {"deep": [1, {"q": null}]}, "y": "s"}, "x": 1})",
                       R"("a": {"b": null, "unknown": [1, 2]})", R"("a": {"b": {}})"});
  ASSERT_EQ(batch.rows->num_rows(), 3) << first_error(batch);
  expect_column(batch, 1,
                R"([{"x": 1, "b": {"y": "s", "z": true}}, {"x": null, "b": null},
                    {"x": null, "b": {"y": null, "z": null}}])");
}

TEST(NestedDecode, ArraysWithNullsEmptyAndNested) {
  RecordDecoder decoder = decoder_for({array_of("a", leaf("", ColumnType::kInt64)),
                                       array_of("aa", array_of("", leaf("", ColumnType::kDouble))),
                                       array_of("am", map_of("", leaf("", ColumnType::kInt32)))});
  const DecodedBatch batch =
      decode(decoder, {R"("a": [1, null, 3], "aa": [[1.5], [], null, [null, 2]], "am": [{"k": 1}, {}])",
                       R"("a": [], "aa": [], "am": [null])", R"("a": null)"});
  ASSERT_EQ(batch.rows->num_rows(), 3) << first_error(batch);
  expect_column(batch, 1, "[[1, null, 3], [], null]");
  expect_column(batch, 2, "[[[1.5], [], null, [null, 2]], [], null]");
  expect_column(batch, 3, R"([[[["k", 1]], []], [null], null])");
}

TEST(NestedDecode, MapsWithOddKeys) {
  RecordDecoder decoder = decoder_for({map_of("m", leaf("", ColumnType::kString))});
  const DecodedBatch batch =
      decode(decoder, {R"("m": {"": "empty", "é": "raw", "\u00e9t\u00e9": "escaped", "a\"b\\c": "quote",)"
                       R"( "line\nbreak": null, "\ud83d\ude00": "emoji", "a.b[0]": "dots"})"});
  ASSERT_EQ(batch.rows->num_rows(), 1) << first_error(batch);
  expect_column(batch, 1,
                R"([[["", "empty"], ["é", "raw"], ["été", "escaped"], ["a\"b\\c", "quote"], ["line\nbreak", null],)"
                R"( ["😀", "emoji"], ["a.b[0]", "dots"]]])");
}

TEST(NestedDecode, ADuplicateKeyInAMapIsABadRecord) {
  const std::vector<ColumnSpec> columns = {map_of("attrs", leaf("", ColumnType::kInt32))};
  EXPECT_EQ(reason(columns, R"("attrs": {"a": 1, "b": 2, "a": 3})"),
            R"(field 'attrs["a"]' appears more than once (a duplicate map key))");
  // The same key escaped differently is the same key.
  EXPECT_EQ(reason(columns, R"("attrs": {"a": 1, "\u0061": 2})"),
            R"(field 'attrs["a"]' appears more than once (a duplicate map key))");
  // A map large enough for the hash table.
  std::string large = R"("attrs": {)";
  for (int i = 0; i < 40; ++i) large += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  EXPECT_EQ(reason(columns, large + R"("k17": 0})"),
            R"(field 'attrs["k17"]' appears more than once (a duplicate map key))");
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(decoder, {large + R"("k40": 40})"});
  ASSERT_EQ(batch.rows->num_rows(), 1) << first_error(batch);
  const auto& map = static_cast<const arrow::MapArray&>(*batch.rows->column(1));
  EXPECT_EQ(map.value_length(0), 41);
}

TEST(NestedDecode, DecimalsExactly) {
  RecordDecoder decoder = decoder_for({decimal("d", 10, 2), decimal("big", 38, 0), decimal("frac", 38, 38)});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"("d": "12.30")", "12.30"},
      {R"("d": 12.30)", "12.30"},
      {R"("d": 0.1)", "0.10"},
      {R"("d": "1.23E+2")", "123.00"},
      {R"("d": 1.23e2)", "123.00"},
      {R"("d": "1,000.5")", "1000.50"},
      {R"("d": "+1.5")", "1.50"},
      {R"("d": ".5")", "0.50"},
      {R"("d": "5.")", "5.00"},
      {R"("d": "-0")", "0.00"},
      {R"("d": 99999999.99)", "99999999.99"},
      {R"("d": 12)", "12.00"},
      {R"("d": "12.3000")", "12.30"},
      {R"("d": 1.200e1)", "12.00"},
  };
  std::vector<std::string> bodies;
  for (const auto& c : cases) bodies.push_back(c.first);
  bodies.push_back(R"("big": 99999999999999999999999999999999999999)");
  bodies.push_back(R"("big": "-99999999999999999999999999999999999999")");
  bodies.push_back(R"("big": 2.0)");
  bodies.push_back(R"("big": -30E-1)");
  bodies.push_back(R"("big": 1E37)");
  bodies.push_back(R"("frac": 0.12345678901234567890123456789012345678)");
  bodies.push_back(R"("frac": -0.123456789012345678901234567890123456790)");
  const DecodedBatch batch = decode(decoder, bodies);
  ASSERT_EQ(batch.rows->num_rows(), static_cast<int64_t>(bodies.size())) << first_error(batch);
  const auto& d = static_cast<const arrow::Decimal128Array&>(*batch.rows->column(1));
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(d.FormatValue(static_cast<int64_t>(i)), cases[i].second) << cases[i].first;
  const auto& big = static_cast<const arrow::Decimal128Array&>(*batch.rows->column(2));
  const auto n = static_cast<int64_t>(cases.size());
  EXPECT_EQ(big.FormatValue(n), std::string(38, '9'));
  EXPECT_EQ(big.FormatValue(n + 1), "-" + std::string(38, '9'));
  EXPECT_EQ(big.FormatValue(n + 2), "2");
  EXPECT_EQ(big.FormatValue(n + 3), "-3");
  EXPECT_EQ(big.FormatValue(n + 4), "1" + std::string(37, '0'));
  const auto& frac = static_cast<const arrow::Decimal128Array&>(*batch.rows->column(3));
  EXPECT_EQ(frac.FormatValue(n + 5), "0.12345678901234567890123456789012345678");
  EXPECT_EQ(frac.FormatValue(n + 6), "-0.12345678901234567890123456789012345679");  // a trailing 0 is no loss
}

TEST(NestedDecode, DecimalsThatDoNotFitAreBadRecords) {
  const std::vector<ColumnSpec> columns = {decimal("d", 10, 2), decimal("big", 38, 0), decimal("frac", 38, 38)};
  EXPECT_EQ(reason(columns, R"("d": 123456789.12)"),
            "field 'd': '123456789.12' does not fit DECIMAL(10,2) (at most 8 digits before the point)");
  // Digits past the scale: Spark rounds HALF_UP (12.35), kpipe does not lose them silently.
  EXPECT_EQ(reason(columns, R"("d": "12.345")"),
            "field 'd': '12.345' has more digits after the point than DECIMAL(10,2) keeps (2); kpipe does not round");
  for (const char* text :
       {R"("d": 12.355)", R"("d": -0.005)", R"("d": 1e-5)", R"("d": 0.00000000000000000000000000001)", R"("big": 2.5)",
        R"("frac": -0.123456789012345678901234567890123456789)"}) {
    EXPECT_THAT(reason(columns, text), HasSubstr("has more digits after the point than")) << text;
  }
  EXPECT_THAT(reason(columns, R"("d": "99999999.995")"), HasSubstr("does not fit DECIMAL(10,2)"));
  EXPECT_THAT(reason(columns, R"("big": 999999999999999999999999999999999999999)"),
              HasSubstr("does not fit DECIMAL(38,0)"));
  EXPECT_THAT(reason(columns, R"("big": 1e38)"), HasSubstr("does not fit DECIMAL(38,0)"));
  EXPECT_EQ(reason(columns, R"("frac": 1)"),
            "field 'frac': '1' does not fit DECIMAL(38,38) (at most 0 digits before the point)");
  EXPECT_EQ(reason(columns, R"("d": "abc")"),
            "field 'd': 'abc' is not a valid DECIMAL(10,2) (digits with an optional sign, point and exponent, such as "
            "-12.30 or 1.23E+2)");
  for (const char* text : {R"("d": " 12.3")", R"("d": "")", R"("d": "1.5e")", R"("d": "0x10")", R"("d": "NaN")",
                           R"("d": "1e9999999999")", R"("d": "-")", R"("d": ".")"}) {
    EXPECT_THAT(reason(columns, text), HasSubstr("is not a valid DECIMAL(10,2)")) << text;
  }
  EXPECT_EQ(reason(columns, R"("d": true)"), "field 'd': expected DECIMAL(10,2), got boolean");
  EXPECT_EQ(reason(columns, R"("d": [1])"), "field 'd': expected DECIMAL(10,2), got array");
  EXPECT_THAT(reason(columns, R"("d": 1.5.5)"), HasSubstr("malformed JSON"));
}

TEST(NestedDecode, SmallIntegersAreRangeChecked) {
  const std::vector<ColumnSpec> columns = {leaf("s", ColumnType::kInt16), leaf("t", ColumnType::kInt8)};
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(decoder, {R"("s": 32767, "t": 127)", R"("s": -32768, "t": -128)"});
  ASSERT_EQ(batch.rows->num_rows(), 2) << first_error(batch);
  expect_column(batch, 1, "[32767, -32768]");
  expect_column(batch, 2, "[127, -128]");
  EXPECT_EQ(reason(columns, R"("s": 32768)"), "field 's': expected SMALLINT, got number 32768 (out of range)");
  EXPECT_EQ(reason(columns, R"("t": 128)"), "field 't': expected TINYINT, got number 128 (out of range)");
  EXPECT_EQ(reason(columns, R"("t": -129)"), "field 't': expected TINYINT, got number -129 (out of range)");
  EXPECT_EQ(reason(columns, R"("s": 1.0)"), "field 's': expected SMALLINT, got number 1.0 (not an integer)");
  EXPECT_EQ(reason(columns, R"("t": "1")"), "field 't': expected TINYINT, got string");
}

TEST(NestedDecode, BinaryIsBase64AsSpark) {
  const std::vector<ColumnSpec> columns = {leaf("b", ColumnType::kBinary),
                                           array_of("bs", leaf("", ColumnType::kBinary))};
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(
      decoder, {R"("b": "aGVsbG8=", "bs": ["", "AAE=", null, "/+8="])", R"("b": "aGk= aGk=\n")", R"("b": "YQ==YQ==")"});
  ASSERT_EQ(batch.rows->num_rows(), 3) << first_error(batch);
  const auto& b = static_cast<const arrow::BinaryArray&>(*batch.rows->column(1));
  EXPECT_EQ(b.GetView(0), "hello");
  EXPECT_EQ(b.GetView(1), "hihi");
  EXPECT_EQ(b.GetView(2), "aa");
  const auto& bs = static_cast<const arrow::ListArray&>(*batch.rows->column(2));
  const auto& bytes = static_cast<const arrow::BinaryArray&>(*bs.values());
  ASSERT_EQ(bs.value_length(0), 4);
  EXPECT_EQ(bytes.GetView(0), "");
  EXPECT_EQ(bytes.GetView(1), std::string_view("\x00\x01", 2));
  EXPECT_TRUE(bytes.IsNull(2));
  EXPECT_EQ(bytes.GetView(3), "\xff\xef");
  EXPECT_EQ(reason(columns, R"("b": "aGVsbG8")"),
            "field 'b': 'aGVsbG8' is not valid base64 (it ends inside a group of 4) (BINARY takes standard base64 with "
            "'=' padding, as Spark)");
  EXPECT_THAT(reason(columns, R"("bs": ["AAE=", "a-_b"])"),
              HasSubstr("field 'bs[1]': 'a-_b' is not valid base64 at character 2"));
  EXPECT_THAT(reason(columns, R"("b": "aG Vs")"), HasSubstr("at character 3"));
  EXPECT_EQ(reason(columns, R"("b": 5)"), "field 'b': expected BINARY, got number");
}

TEST(NestedDecode, TimestampNtzIsALocalTimeWithoutZone) {
  const std::vector<ColumnSpec> columns = {leaf("t", ColumnType::kTimestampNtz)};
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(
      decoder, {R"("t": "2025-11-06T12:30:00.123456789")", R"("t": "2025-11-06")", R"("t": "0001-01-01 00:00")"});
  ASSERT_EQ(batch.rows->num_rows(), 3) << first_error(batch);
  EXPECT_EQ(batch.rows->column(1)->type()->ToString(), "timestamp[us]");
  expect_column(batch, 1, "[1762432200123456, 1762387200000000, -62135596800000000]");
  EXPECT_EQ(reason(columns, R"("t": "2025-11-06T12:30:00Z")"),
            "field 't': '2025-11-06T12:30:00Z' has a time zone; TIMESTAMP_NTZ takes a local date-time without one (as "
            "Spark's from_json)");
  EXPECT_THAT(reason(columns, R"("t": "2025-11-06T12:30:00+02:00")"), HasSubstr("has a time zone"));
  EXPECT_THAT(reason(columns, R"("t": "2025-13-06T12:30:00")"), HasSubstr("is not a valid TIMESTAMP_NTZ"));
  EXPECT_EQ(reason(columns, R"("t": 1762432200000)"), "field 't': expected TIMESTAMP_NTZ, got number");
}

TEST(NestedDecode, ErrorsNameThePathOfTheField) {
  const std::vector<ColumnSpec> columns = issue_columns();
  EXPECT_EQ(reason(columns, R"("user": {"tags": ["a", {"x": 1}]})"),
            "field 'user.tags[1]': expected STRING, got object");
  EXPECT_EQ(reason(columns, R"("items": [{}, {}, {"sku": "z", "price": "123456789.5"}])"),
            "field 'items[2].price': '123456789.5' does not fit DECIMAL(10,2) (at most 8 digits before the point)");
  EXPECT_EQ(reason(columns, R"("attrs": {"k": 1, "z": [1]})"), R"(field 'attrs["z"]': expected STRING, got array)");
  EXPECT_EQ(reason(columns, R"("user": [7])"), "field 'user': expected STRUCT, got array");
  EXPECT_EQ(reason(columns, R"("items": {"sku": "x"})"), "field 'items': expected ARRAY, got object");
  EXPECT_EQ(reason(columns, R"("attrs": ["k", "v"])"), "field 'attrs': expected MAP, got array");
  EXPECT_EQ(reason(columns, R"("user": {"id": 1, "id": 2})"), "field 'user.id' appears more than once");
  EXPECT_EQ(reason(columns, R"("user": {"id": 1.5})"),
            "field 'user.id': expected BIGINT, got number 1.5 (not an integer)");
  EXPECT_THAT(reason(columns, R"("user": {"tags": ["a", nul]})"), HasSubstr("malformed JSON in field 'user.tags[1]'"));
  EXPECT_THAT(reason(columns, R"("user": {"unknown": [1, tru]})"), HasSubstr("malformed JSON"));
  EXPECT_EQ(reason(columns, R"("attrs": {"a\"b\n": [5]})"),
            R"(field 'attrs["a\"b\u000a"]': expected STRING, got array)");
  // Names a '.' would make ambiguous are back-quoted, as Spark quotes them.
  EXPECT_EQ(reason({struct_of("s", {leaf("a.b", ColumnType::kInt32)})}, R"("s": {"a.b": "x"})"),
            "field 's.`a.b`': expected INT, got string");
  // Long keys are cut.
  EXPECT_EQ(reason({map_of("m", leaf("", ColumnType::kInt32))}, R"("m": {")" + std::string(100, 'k') + R"(": "x"})"),
            "field 'm[\"" + std::string(64, 'k') + "...\"]': expected INT, got string");
}

TEST(NestedDecode, NotNullIsEnforcedAtEveryDepth) {
  ColumnSpec id = leaf("id", ColumnType::kInt64, false);
  ColumnSpec element = leaf("", ColumnType::kInt32, false);
  ColumnSpec value = leaf("", ColumnType::kString, false);
  const std::vector<ColumnSpec> columns = {struct_of("user", {id, leaf("name", ColumnType::kString)}),
                                           array_of("a", element), map_of("m", value)};
  EXPECT_EQ(reason(columns, R"("user": {"name": "x"})"), "field 'user.id' is NOT NULL but missing");
  EXPECT_EQ(reason(columns, R"("user": {"id": null})"), "field 'user.id' is NOT NULL but null");
  EXPECT_EQ(reason(columns, R"("a": [1, null])"), "field 'a[1]' is NOT NULL but null");
  EXPECT_EQ(reason(columns, R"("m": {"k": null})"), R"(field 'm["k"]' is NOT NULL but null)");
  // A null or missing parent is fine: the NOT NULL field is only required inside a present one.
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(decoder, {R"("user": null)", R"("user": {"id": 3}, "a": [], "m": {"k": "v"})"});
  ASSERT_EQ(batch.rows->num_rows(), 2) << first_error(batch);
  expect_column(batch, 1, R"([null, {"id": 3, "name": null}])");
}

TEST(NestedDecode, ABadRecordLeavesNothingInTheNestedBuilders) {
  RecordDecoder decoder = decoder_for(issue_columns());
  const DecodedBatch batch =
      decode(decoder,
             {R"("user": {"id": 1, "tags": ["a"]}, "items": [{"sku": "x"}], "attrs": {"k": "v"})",
              // Everything valid but the very last value, deep down.
              R"("user": {"id": 2, "tags": ["b", "c"]}, "attrs": {"k": "v"}, "items": [{"sku": "y"}, {"price": "x"}])",
              R"("user": {"id": 3, "tags": ["d"]}, "items": [], "attrs": {"q": "r"})"});
  ASSERT_EQ(batch.rows->num_rows(), 2);
  ASSERT_EQ(batch.bad.size(), 1u);
  EXPECT_THAT(batch.bad[0].reason, HasSubstr("field 'items[1].price'"));
  expect_column(batch, 1, R"([{"id": 1, "tags": ["a"]}, {"id": 3, "tags": ["d"]}])");
  expect_column(batch, 2, R"([[{"sku": "x", "price": null}], []])");
  expect_column(batch, 3, R"([[["k", "v"]], [["q", "r"]]])");
}

TEST(NestedDecode, DeepNestingToTheSchemaLimit) {
  // 60 levels: STRUCT<s: STRUCT<s: ... ARRAY<INT>>> and the JSON to match.
  constexpr int kDepth = 60;
  ColumnSpec inner = array_of("s", leaf("", ColumnType::kInt32));
  for (int i = 0; i < kDepth; ++i) inner = struct_of("s", {std::move(inner)});
  std::string body = R"("s": )";
  for (int i = 0; i < kDepth; ++i) body += R"({"s": )";
  std::string good = body + "[1, 2]" + std::string(kDepth, '}');
  std::string bad = body + R"([1, "x"])" + std::string(kDepth, '}');
  std::vector<ColumnSpec> columns;
  columns.push_back(std::move(inner));
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(decoder, {good});
  ASSERT_EQ(batch.rows->num_rows(), 1) << first_error(batch);
  std::shared_ptr<arrow::Array> level = batch.rows->column(1);
  for (int i = 0; i < kDepth; ++i) level = static_cast<const arrow::StructArray&>(*level).field(0);
  EXPECT_EQ(level->ToString(), arrow::json::ArrayFromJSONString(level->type(), "[[1, 2]]").ValueOrDie()->ToString());
  std::string path = "s";
  for (int i = 0; i < kDepth; ++i) path += ".s";
  EXPECT_EQ(reason(columns, bad), "field '" + path + "[1]': expected INT, got string");
}

TEST(NestedDecode, KafkaColumnsAreNotReadFromTheJson) {
  ColumnSpec topic = leaf("topic", ColumnType::kString, false);
  topic.kafka = KafkaField::kTopic;
  RecordDecoder decoder = decoder_for({leaf("x", ColumnType::kInt32), topic});
  // A JSON field of the same name is an unknown field (validated, then ignored), and the column
  // being NOT NULL does not make a payload without it bad.
  const DecodedBatch batch = decode(decoder, {R"("topic": "from-json", "x": 1)", R"("x": 2)"});
  ASSERT_EQ(batch.rows->num_rows(), 2) << first_error(batch);
  const auto& topics = static_cast<const arrow::StringArray&>(*batch.rows->column(2));
  for (int64_t i = 0; i < 2; ++i) EXPECT_TRUE(topics.IsNull(i) || topics.GetView(i) != "from-json");
  EXPECT_THAT(reason({leaf("x", ColumnType::kInt32), topic}, R"("topic": tru)"), HasSubstr("malformed JSON"));
}

TEST(NestedDecode, ARecordOfTooManyValuesIsBad) {
  // 200 `{}` of a 1000-field struct need 200,000 slots from a 600-byte array.
  std::vector<ColumnSpec> fields;
  for (int i = 0; i < 1000; ++i) fields.push_back(leaf("f" + std::to_string(i), ColumnType::kInt32));
  const std::vector<ColumnSpec> columns = {array_of("a", struct_of("", fields))};
  std::string body = R"("a": [{})";
  for (int i = 1; i < 200; ++i) body += ",{}";
  body += "]";
  DecodeLimits limits;
  limits.max_record_bytes = 10000;  // the limit is then its floor, 65536 values
  EXPECT_THAT(reason(columns, body, limits), HasSubstr("field 'a[65]': the record holds more than 65536 values"));
  RecordDecoder decoder = decoder_for(columns);
  const DecodedBatch batch = decode(decoder, {R"("a": [{}, {"f999": 9}])"});
  ASSERT_EQ(batch.rows->num_rows(), 1) << first_error(batch);
}

TEST(NestedDecode, BatchesAfterTheFirstAreCorrect) {
  RecordDecoder decoder = decoder_for(issue_columns());
  for (int round = 0; round < 3; ++round) {
    std::vector<std::string> bodies;
    for (int i = 0; i < 50; ++i) {
      bodies.push_back(R"("user": {"id": )" + std::to_string(round * 100 + i) +
                       R"(, "tags": ["t"]}, "items": [{"sku": "s", "price": )" + std::to_string(i) +
                       R"(.25}], "attrs": {"r": ")" + std::to_string(round) + "\"}");
    }
    const DecodedBatch batch = decode(decoder, bodies);
    ASSERT_EQ(batch.rows->num_rows(), 50) << first_error(batch);
    const auto& user = static_cast<const arrow::StructArray&>(*batch.rows->column(1));
    EXPECT_EQ(static_cast<const arrow::Int64Array&>(*user.field(0)).Value(49), round * 100 + 49);
    const auto& items = static_cast<const arrow::ListArray&>(*batch.rows->column(2));
    const auto& item = static_cast<const arrow::StructArray&>(*items.values());
    EXPECT_EQ(static_cast<const arrow::Decimal128Array&>(*item.field(1)).FormatValue(49), "49.25");
  }
}

}  // namespace
}  // namespace kpipe
