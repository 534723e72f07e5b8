// The nested types (STRUCT, ARRAY, MAP) and the scalar types added with them (DECIMAL, BINARY,
// TINYINT, SMALLINT, TIMESTAMP_NTZ) in every sink: Parquet read back by pyarrow and DuckDB, CSV
// read back by both, and the console table as Spark 3.5's show() prints the same rows.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sink/encoders.h"
#include "sink/value_text.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

using testing::from_json;
using testing::lines_starting_with;
using testing::nested_batch;
using testing::read_back;
using testing::TempDir;

std::string write_file(const TempDir& dir, const FileEncoder& encoder, const arrow::RecordBatch& batch) {
  auto bytes = encoder.encode(batch, 0, batch.num_rows());
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  if (!bytes.ok()) return "";
  const std::string path = dir.path() + "/part-00000000-00000-000" + std::string(encoder.extension());
  testing::write_bytes(path, (*bytes)->data(), static_cast<size_t>((*bytes)->size()));
  return path;
}

std::string encode_csv(const arrow::RecordBatch& batch) {
  auto bytes = make_csv_encoder()->encode(batch, 0, batch.num_rows());
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  return bytes.ok() ? (*bytes)->ToString() : "";
}

// Every nested value, null inside containers, odd map keys and the types' edges come back from
// pyarrow and DuckDB as written, with the declared types.
TEST(NestedParquetTest, ReadBackByPyarrowAndDuckdb) {
  TempDir dir;
  auto batch = nested_batch();
  auto got = read_back("parquet", write_file(dir, *make_parquet_encoder(Compression::kSnappy), *batch));
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(
      lines_starting_with(got.output, "pyarrow "),
      "pyarrow type user: struct<id: int32, tags: list<element: string>>\n"
      "pyarrow type items: list<element: struct<sku: string, price: decimal128(10, 2)>>\n"
      "pyarrow type attrs: map<string, string ('attrs')>\n"
      "pyarrow type rate: decimal128(5, 2)\n"
      "pyarrow type big: decimal128(38, 10)\n"
      "pyarrow type payload: binary\n"
      "pyarrow type t8: int8\n"
      "pyarrow type t16: int16\n"
      "pyarrow type local: timestamp[us]\n"
      "pyarrow type deep: list<element: list<element: int32>>\n"
      "pyarrow type m2: map<string, struct<a: int32, b: string> ('m2')>\n"
      "pyarrow row: {'id': 7, 'tags': ['a', 'b']} | [{'sku': 'x', 'price': Decimal('12.30')}] | [('k', 'v')] | "
      "Decimal('1.50') | Decimal('12345678901234567890.0123456789') | b'\\x01\\x02\\x03' | -128 | 32767 | "
      "2025-11-06T12:30:00.123456 | [[1, 2], [], None, [None]] | [('k', {'a': 1, 'b': None})]\n"
      "pyarrow row: {'id': None, 'tags': [None, 'b', '']} | [None, {'sku': None, 'price': None}] | "
      "[('k', None), ('\\xe9 \"q\"', 'w,x')] | Decimal('-0.05') | "
      "Decimal('-9999999999999999999999999999.9999999999') | b'' | 127 | -32768 | 1969-12-31T23:59:59.999999 | "
      "[] | []\n"
      "pyarrow row: None | None | None | None | None | None | None | None | None | None | None\n"
      "pyarrow row: {'id': 1, 'tags': []} | [] | [] | Decimal('0.00') | Decimal('1E-10') | b'\\xff\\x00' | 0 | 0 | "
      "2025-11-06T00:00:00 | [[3]] | [('z', None)]\n");
  EXPECT_EQ(lines_starting_with(got.output, "duckdb "),
            "duckdb type user: STRUCT(id INTEGER, tags VARCHAR[])\n"
            "duckdb type items: STRUCT(sku VARCHAR, price DECIMAL(10,2))[]\n"
            "duckdb type attrs: MAP(VARCHAR, VARCHAR)\n"
            "duckdb type rate: DECIMAL(5,2)\n"
            "duckdb type big: DECIMAL(38,10)\n"
            "duckdb type payload: BLOB\n"
            "duckdb type t8: TINYINT\n"
            "duckdb type t16: SMALLINT\n"
            "duckdb type local: TIMESTAMP\n"
            "duckdb type deep: INTEGER[][]\n"
            "duckdb type m2: MAP(VARCHAR, STRUCT(a INTEGER, b VARCHAR))\n"
            "duckdb row: \"{'id': 7, 'tags': [a, b]}\" | \"[{'sku': x, 'price': 12.30}]\" | '{k=v}' | '1.50' | "
            "'12345678901234567890.0123456789' | '\\\\x01\\\\x02\\\\x03' | '-128' | '32767' | "
            "'2025-11-06 12:30:00.123456' | '[[1, 2], [], NULL, [NULL]]' | \"{k={'a': 1, 'b': NULL}}\"\n"
            "duckdb row: \"{'id': NULL, 'tags': [NULL, b, '']}\" | \"[NULL, {'sku': NULL, 'price': NULL}]\" | "
            "'{k=NULL, \\'\\xe9 \"q\"\\'=\\'w,x\\'}' | '-0.05' | '-9999999999999999999999999999.9999999999' | '' | "
            "'127' | '-32768' | '1969-12-31 23:59:59.999999' | '[]' | '{}'\n"
            "duckdb row: None | None | None | None | None | None | None | None | None | None | None\n"
            "duckdb row: \"{'id': 1, 'tags': []}\" | '[]' | '{}' | '0.00' | '0.0000000001' | '\\\\xFF\\\\x00' | '0' | "
            "'0' | '2025-11-06 00:00:00' | '[[3]]' | '{z=NULL}'\n");
}

// The layout Spark and Delta readers expect: lists in the 3-level form with "element", maps as
// key_value, decimals on INT32/INT64/FIXED_LEN_BYTE_ARRAY by precision as Spark writes them,
// TINYINT/SMALLINT as annotated INT32, TIMESTAMP_NTZ with isAdjustedToUTC=false.
// (Spark 3.5.1 reads this file back with the same values and types: see the console test.)
TEST(NestedParquetTest, SparkLayout) {
  TempDir dir;
  auto got = read_back("parquet", write_file(dir, *make_parquet_encoder(Compression::kSnappy), *nested_batch()));
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(lines_starting_with(got.output, "schema: "),
            "schema: required group field_id=-1 schema {\n"
            "schema:   optional group field_id=-1 user {\n"
            "schema:     optional int32 field_id=-1 id;\n"
            "schema:     optional group field_id=-1 tags (List) {\n"
            "schema:       repeated group field_id=-1 list {\n"
            "schema:         optional binary field_id=-1 element (String);\n"
            "schema:       }\n"
            "schema:     }\n"
            "schema:   }\n"
            "schema:   optional group field_id=-1 items (List) {\n"
            "schema:     repeated group field_id=-1 list {\n"
            "schema:       optional group field_id=-1 element {\n"
            "schema:         optional binary field_id=-1 sku (String);\n"
            "schema:         optional int64 field_id=-1 price (Decimal(precision=10, scale=2));\n"
            "schema:       }\n"
            "schema:     }\n"
            "schema:   }\n"
            "schema:   optional group field_id=-1 attrs (Map) {\n"
            "schema:     repeated group field_id=-1 key_value {\n"
            "schema:       required binary field_id=-1 key (String);\n"
            "schema:       optional binary field_id=-1 value (String);\n"
            "schema:     }\n"
            "schema:   }\n"
            "schema:   optional int32 field_id=-1 rate (Decimal(precision=5, scale=2));\n"
            "schema:   optional fixed_len_byte_array(16) field_id=-1 big (Decimal(precision=38, scale=10));\n"
            "schema:   optional binary field_id=-1 payload;\n"
            "schema:   optional int32 field_id=-1 t8 (Int(bitWidth=8, isSigned=true));\n"
            "schema:   optional int32 field_id=-1 t16 (Int(bitWidth=16, isSigned=true));\n"
            "schema:   optional int64 field_id=-1 local (Timestamp(isAdjustedToUTC=false, "
            "timeUnit=microseconds, is_from_converted_type=false, force_set_converted_type=false));\n"
            "schema:   optional group field_id=-1 deep (List) {\n"
            "schema:     repeated group field_id=-1 list {\n"
            "schema:       optional group field_id=-1 element (List) {\n"
            "schema:         repeated group field_id=-1 list {\n"
            "schema:           optional int32 field_id=-1 element;\n"
            "schema:         }\n"
            "schema:       }\n"
            "schema:     }\n"
            "schema:   }\n"
            "schema:   optional group field_id=-1 m2 (Map) {\n"
            "schema:     repeated group field_id=-1 key_value {\n"
            "schema:       required binary field_id=-1 key (String);\n"
            "schema:       optional group field_id=-1 value {\n"
            "schema:         optional int32 field_id=-1 a;\n"
            "schema:         optional binary field_id=-1 b (String);\n"
            "schema:       }\n"
            "schema:     }\n"
            "schema:   }\n"
            "schema: }\n");
}

// NOT NULL fields (non-nullable Arrow fields) are REQUIRED at every depth.
TEST(NestedParquetTest, NotNullFieldsAreRequired) {
  TempDir dir;
  auto inner = arrow::struct_({arrow::field("id", arrow::int32(), false), arrow::field("note", arrow::utf8())});
  auto list = arrow::list(arrow::field("element", arrow::int64(), false));
  auto s = from_json(inner, R"([{"id": 1, "note": null}])");
  auto l = from_json(list, "[[1, 2]]");
  auto batch =
      arrow::RecordBatch::Make(arrow::schema({arrow::field("s", inner, false), arrow::field("l", list)}), 1, {s, l});
  auto got = read_back("parquet", write_file(dir, *make_parquet_encoder(Compression::kNone), *batch));
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(lines_starting_with(got.output, "schema: "),
            "schema: required group field_id=-1 schema {\n"
            "schema:   required group field_id=-1 s {\n"
            "schema:     required int32 field_id=-1 id;\n"
            "schema:     optional binary field_id=-1 note (String);\n"
            "schema:   }\n"
            "schema:   optional group field_id=-1 l (List) {\n"
            "schema:     repeated group field_id=-1 list {\n"
            "schema:       required int64 field_id=-1 element;\n"
            "schema:     }\n"
            "schema:   }\n"
            "schema: }\n");
  EXPECT_EQ(lines_starting_with(got.output, "pyarrow row: "), "pyarrow row: {'id': 1, 'note': None} | [1, 2]\n");
}

// CSV has no nested types: a struct, array or map is its JSON text in one cell, quoted when the
// text holds a comma or a quote (quotes doubled, RFC 4180); decimals exact in plain notation
// ("0.0000000001", where Arrow and Spark write 1E-10); binary base64 (the empty value quoted, so
// that it is not null); TINYINT/SMALLINT numbers; TIMESTAMP_NTZ without 'Z'; null an empty cell.
TEST(NestedCsvTest, ExactBytes) {
  EXPECT_EQ(
      encode_csv(*nested_batch()),
      "user,items,attrs,rate,big,payload,t8,t16,local,deep,m2\n"
      "\"{\"\"id\"\":7,\"\"tags\"\":[\"\"a\"\",\"\"b\"\"]}\",\"[{\"\"sku\"\":\"\"x\"\",\"\"price\"\":12.30}]\","
      "\"{\"\"k\"\":\"\"v\"\"}\",1.50,12345678901234567890.0123456789,AQID,-128,32767,"
      "2025-11-06T12:30:00.123456,\"[[1,2],[],null,[null]]\",\"{\"\"k\"\":{\"\"a\"\":1,\"\"b\"\":null}}\"\n"
      "\"{\"\"id\"\":null,\"\"tags\"\":[null,\"\"b\"\",\"\"\"\"]}\",\"[null,{\"\"sku\"\":null,\"\"price\"\":null}]\","
      "\"{\"\"k\"\":null,\"\"\xC3\xA9 "
      "\\\"\"q\\\"\"\"\":\"\"w,x\"\"}\",-0.05,-9999999999999999999999999999.9999999999,"
      "\"\",127,-32768,1969-12-31T23:59:59.999999,[],{}\n"
      ",,,,,,,,,,\n"
      "\"{\"\"id\"\":1,\"\"tags\"\":[]}\",[],{},0.00,0.0000000001,/wA=,0,0,2025-11-06T00:00:00.000,"
      "[[3]],\"{\"\"z\"\":null}\"\n");
}

// Every scalar type inside a nested value: the JSON text Spark's from_json reads back.
TEST(NestedCsvTest, ScalarsInsideNestedValues) {
  auto type =
      arrow::struct_({arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
                      arrow::field("ntz", arrow::timestamp(arrow::TimeUnit::MICRO)), arrow::field("d", arrow::date32()),
                      arrow::field("f", arrow::float64()), arrow::field("fl", arrow::float32()),
                      arrow::field("ok", arrow::boolean()), arrow::field("bin", arrow::binary()),
                      arrow::field("dec", arrow::decimal128(18, 8)), arrow::field("s", arrow::utf8())});
  auto s = from_json(type, R"([{"ts": 1762432200123000, "ntz": 1762432200000001, "d": 20398, "f": 1e300,
                                "fl": 0.1, "ok": true, "bin": "foo", "dec": "0.00000000", "s": "tab\t\u0001 \"q\" \\"},
                               {"ts": -1, "ntz": null, "d": -1, "f": -0.0, "fl": null, "ok": false, "bin": "",
                                "dec": "-0.00000001", "s": "\u65e5"}])");
  auto nan = from_json(arrow::list(arrow::field("element", arrow::float64())), "[[0.5, null], []]");
  // NaN and infinities are not JSON numbers: the strings Spark's from_json reads back as them.
  auto doubles = arrow::MakeArrayOfNull(arrow::float64(), 0).ValueOrDie();
  arrow::DoubleBuilder b;
  ASSERT_TRUE(b.AppendValues({std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                              -std::numeric_limits<double>::infinity(), 0.1})
                  .ok());
  auto values = b.Finish().ValueOrDie();
  auto offsets = from_json(arrow::int32(), "[0, 3, 4]");
  auto list = arrow::ListArray::FromArrays(*offsets, *values).ValueOrDie();
  auto batch = arrow::RecordBatch::Make(
      arrow::schema({arrow::field("s", type), arrow::field("l", nan->type()), arrow::field("x", list->type())}), 2,
      {s, nan, list});
  EXPECT_EQ(encode_csv(*batch),
            "s,l,x\n"
            "\"{\"\"ts\"\":\"\"2025-11-06T12:30:00.123Z\"\",\"\"ntz\"\":\"\"2025-11-06T12:30:00.000001\"\","
            "\"\"d\"\":\"\"2025-11-06\"\",\"\"f\"\":1e+300,\"\"fl\"\":0.1,\"\"ok\"\":true,\"\"bin\"\":\"\"Zm9v\"\","
            "\"\"dec\"\":0.00000000,\"\"s\"\":\"\"tab\\t\\u0001 \\\"\"q\\\"\" \\\\\"\"}\",\"[0.5,null]\","
            "\"[\"\"NaN\"\",\"\"Infinity\"\",\"\"-Infinity\"\"]\"\n"
            "\"{\"\"ts\"\":\"\"1969-12-31T23:59:59.999999Z\"\",\"\"ntz\"\":null,\"\"d\"\":\"\"1969-12-31\"\","
            "\"\"f\"\":-0,\"\"fl\"\":null,\"\"ok\"\":false,\"\"bin\"\":\"\"\"\",\"\"dec\"\":-0.00000001,"
            "\"\"s\"\":\"\"\xE6\x97\xA5\"\"}\",[],[0.1]\n");
}

// The independent check of the JSON cells: Python's json module parses every one (decimals
// exactly) to the value pyarrow reads from the Parquet file of the same rows; DuckDB's
// json_valid accepts them all.
TEST(NestedCsvTest, JsonCellsParseBackToTheParquetValues) {
  TempDir dir;
  auto batch = nested_batch();
  const std::string parquet = write_file(dir, *make_parquet_encoder(Compression::kNone), *batch);
  const std::string csv = write_file(dir, *make_csv_encoder(), *batch);
  auto got = testing::run_python(std::string("'") + KPIPE_SOURCE_DIR + "/tests/unit/sink_readback.py' csv-json '" +
                                 csv + "' '" + parquet + "'");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(got.output,
            "json cells compared: 20\n"
            "duckdb rows with an invalid json cell: 0\n");
}

TEST(NestedCsvTest, ReadBackByPyarrowAndDuckdb) {
  TempDir dir;
  auto got = read_back("csv", write_file(dir, *make_csv_encoder(), *nested_batch()));
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(lines_starting_with(got.output, "duckdb "),
            "duckdb type user: VARCHAR\n"
            "duckdb type items: VARCHAR\n"
            "duckdb type attrs: VARCHAR\n"
            "duckdb type rate: DOUBLE\n"
            "duckdb type big: DOUBLE\n"
            "duckdb type payload: VARCHAR\n"
            "duckdb type t8: BIGINT\n"
            "duckdb type t16: BIGINT\n"
            "duckdb type local: TIMESTAMP\n"
            "duckdb type deep: VARCHAR\n"
            "duckdb type m2: VARCHAR\n"
            "duckdb row: '{\"id\":7,\"tags\":[\"a\",\"b\"]}' | '[{\"sku\":\"x\",\"price\":12.30}]' | '{\"k\":\"v\"}' | "
            "'1.5' | '1.2345678901234567e+19' | 'AQID' | '-128' | '32767' | '2025-11-06 12:30:00.123456' | "
            "'[[1,2],[],null,[null]]' | '{\"k\":{\"a\":1,\"b\":null}}'\n"
            "duckdb row: '{\"id\":null,\"tags\":[null,\"b\",\"\"]}' | '[null,{\"sku\":null,\"price\":null}]' | "
            "'{\"k\":null,\"\\xe9 \\\\\"q\\\\\"\":\"w,x\"}' | '-0.05' | '-1e+28' | '' | '127' | '-32768' | "
            "'1969-12-31 23:59:59.999999' | '[]' | '{}'\n"
            "duckdb row: None | None | None | None | None | None | None | None | None | None | None\n"
            "duckdb row: '{\"id\":1,\"tags\":[]}' | '[]' | '{}' | '0.0' | '1e-10' | '/wA=' | '0' | '0' | "
            "'2025-11-06 00:00:00' | '[[3]]' | '{\"z\":null}'\n");
}

// What Spark 3.5.1 prints for the same rows: spark.read.parquet() of the file
// NestedParquetTest writes, then show() and show(truncate=False), recorded from Spark (session
// time zone UTC). NULL at any depth, struct values without names, maps with " -> ", binary as
// upper-case hex, decimals with their scale, the 20-character cut applied to the whole text.
TEST(NestedConsoleTest, AsSpark35ShowsTheSameRows) {
  EXPECT_EQ(
      format_console_table(1, *nested_batch()),
      "-------------------------------------------\n"
      "Batch: 1\n"
      "-------------------------------------------\n"
      "+-------------------+--------------------+--------------------+-----+--------------------+----------+----"
      "+------+--------------------+--------------------+----------------+\n"
      "|               user|               items|               attrs| rate|                 big|   payload|  t8"
      "|   t16|               local|                deep|              m2|\n"
      "+-------------------+--------------------+--------------------+-----+--------------------+----------+----"
      "+------+--------------------+--------------------+----------------+\n"
      "|        {7, [a, b]}|        [{x, 12.30}]|            {k -> v}| 1.50|12345678901234567...|[01 02 03]|-128"
      "| 32767|2025-11-06 12:30:...|[[1, 2], [], NULL...|{k -> {1, NULL}}|\n"
      "|{NULL, [NULL, b, ]}|[NULL, {NULL, NULL}]|{k -> NULL, \xC3\xA9 \"q\"...|-0.05|-9999999999999999...|        []"
      "| 127|-32768|1969-12-31 23:59:...|                  []|              {}|\n"
      "|               NULL|                NULL|                NULL| NULL|                NULL|      NULL|NULL"
      "|  NULL|                NULL|                NULL|            NULL|\n"
      "|            {1, []}|                  []|                  {}| 0.00|        0.0000000001|   [FF 00]|   0"
      "|     0| 2025-11-06 00:00:00|               [[3]]|     {z -> NULL}|\n"
      "+-------------------+--------------------+--------------------+-----+--------------------+----------+----"
      "+------+--------------------+--------------------+----------------+\n");
  EXPECT_EQ(
      format_console_table(1, *nested_batch(), 20, /*truncate=*/false),
      "-------------------------------------------\n"
      "Batch: 1\n"
      "-------------------------------------------\n"
      "+-------------------+--------------------+-------------------------+-----+--------------------------------"
      "--------+----------+----+------+--------------------------+--------------------------+----------------+\n"
      "|user               |items               |attrs                    |rate |big                             "
      "        |payload   |t8  |t16   |local                     |deep                      |m2              |\n"
      "+-------------------+--------------------+-------------------------+-----+--------------------------------"
      "--------+----------+----+------+--------------------------+--------------------------+----------------+\n"
      "|{7, [a, b]}        |[{x, 12.30}]        |{k -> v}                 |1.50 |12345678901234567890.0123456789 "
      "        |[01 02 03]|-128|32767 |2025-11-06 12:30:00.123456|[[1, 2], [], NULL, [NULL]]|{k -> {1, NULL}}|\n"
      "|{NULL, [NULL, b, ]}|[NULL, {NULL, NULL}]|{k -> NULL, \xC3\xA9 \"q\" -> w,x}|-0.05|-99999999999999999999999"
      "99999.9999999999|[]        |127 |-32768|1969-12-31 23:59:59.999999|[]                        |{}     "
      "         |\n"
      "|NULL               |NULL                |NULL                     |NULL |NULL                            "
      "        |NULL      |NULL|NULL  |NULL                      |NULL                      |NULL            |\n"
      "|{1, []}            |[]                  |{}                       |0.00 |0.0000000001                    "
      "        |[FF 00]   |0   |0     |2025-11-06 00:00:00       |[[3]]                     |{z -> NULL}     |\n"
      "+-------------------+--------------------+-------------------------+-----+--------------------------------"
      "--------+----------+----+------+--------------------------+--------------------------+----------------+\n");
}

// Spark's show() of scalars inside nested values (recorded from Spark 3.5.1 for the same
// values): doubles as Java prints them, timestamps as at the top level, newlines escaped.
TEST(NestedConsoleTest, ScalarsInsideNestedValues) {
  auto type =
      arrow::struct_({arrow::field("f", arrow::float64()), arrow::field("fl", arrow::float32()),
                      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
                      arrow::field("ntz", arrow::timestamp(arrow::TimeUnit::MICRO)), arrow::field("b", arrow::binary()),
                      arrow::field("d", arrow::decimal128(5, 2)), arrow::field("dt", arrow::date32()),
                      arrow::field("bo", arrow::boolean()), arrow::field("str", arrow::utf8())});
  auto s = from_json(type, R"([{"f": 1e10, "fl": 0.1, "ts": 1762432200123456, "ntz": 1762432200000000,
                                "b": "\u0001\u0002\u0003", "d": "1.50", "dt": 20398, "bo": false, "str": "x\ny"}])");
  auto a = from_json(arrow::list(arrow::field("element", arrow::float64())), "[[1.0, null, 0.001, 1e-5]]");
  auto batch =
      arrow::RecordBatch::Make(arrow::schema({arrow::field("s", type), arrow::field("a", a->type())}), 1, {s, a});
  EXPECT_EQ(lines_starting_with(format_console_table(0, *batch, 20, false), "|{"),
            "|{1.0E10, 0.1, 2025-11-06 12:30:00.123456, 2025-11-06 12:30:00, [01 02 03], 1.50, 2025-11-06, false, "
            "x\\ny}|[1.0, NULL, 0.001, 1.0E-5]|\n");
}

TEST(ValueTextTest, DecimalsExactlyAtTheEdgesOfPrecision) {
  auto text = [](const char* value, int precision, int scale) {
    auto array = from_json(arrow::decimal128(precision, scale), std::string("[\"") + value + "\"]");
    char buf[kMaxDecimalText];
    const auto& d = static_cast<const arrow::Decimal128Array&>(*array);
    return std::string(buf, format_decimal128(d.GetValue(0), scale, buf));
  };
  EXPECT_EQ(text("12.30", 10, 2), "12.30");
  EXPECT_EQ(text("-0.05", 10, 2), "-0.05");
  EXPECT_EQ(text("0.00", 10, 2), "0.00");
  EXPECT_EQ(text("0.00000000", 18, 8), "0.00000000");  // Arrow and Java would say 0E-8
  EXPECT_EQ(text("7", 1, 0), "7");
  EXPECT_EQ(text("-7", 1, 0), "-7");
  EXPECT_EQ(text("99999999999999999999999999999999999999", 38, 0), "99999999999999999999999999999999999999");
  EXPECT_EQ(text("-99999999999999999999999999999999999999", 38, 0), "-99999999999999999999999999999999999999");
  EXPECT_EQ(text("0.00000000000000000000000000000000000001", 38, 38), "0.00000000000000000000000000000000000001");
  EXPECT_EQ(text("-0.99999999999999999999999999999999999999", 38, 38), "-0.99999999999999999999999999999999999999");
  // Arrow allows a negative scale (value = unscaled * 10^-scale); Spark and our schema do not.
  char buf[kMaxDecimalText];
  uint8_t twelve[16] = {12};
  EXPECT_EQ(std::string(buf, format_decimal128(twelve, -2, buf)), "1200");
  uint8_t zero[16] = {};
  EXPECT_EQ(std::string(buf, format_decimal128(zero, -2, buf)), "0");
  // The most negative Decimal128 (-2^127), beyond DECIMAL(38) but representable: no overflow.
  uint8_t min[16] = {};
  min[15] = 0x80;
  EXPECT_EQ(std::string(buf, format_decimal128(min, 2, buf)), "-1701411834604692317316873037158841057.28");
}

TEST(ValueTextTest, Base64AsRfc4648) {
  for (auto [in, out] : {std::pair{"", ""},
                         {"f", "Zg=="},
                         {"fo", "Zm8="},
                         {"foo", "Zm9v"},
                         {"foob", "Zm9vYg=="},
                         {"fooba", "Zm9vYmE="},
                         {"foobar", "Zm9vYmFy"}}) {
    std::string got;
    append_base64(in, got);
    EXPECT_EQ(got, out) << in;
  }
  std::string got;
  append_base64(std::string("\xFF\xFE\x00", 3), got);
  EXPECT_EQ(got, "//4A");
}

}  // namespace
}  // namespace kpipe
