#include "decode/schema.h"

#include <cctype>
#include <string>

#include <arrow/type.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kDefaultSchema = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING";
constexpr const char* kExpectedTypes =
    "(expected STRING, BIGINT, INT, SMALLINT, TINYINT, DOUBLE, FLOAT, DECIMAL(p, s), BOOLEAN, BINARY, TIMESTAMP, "
    "TIMESTAMP_NTZ, DATE, STRUCT<...>, ARRAY<...>, MAP<STRING, ...>)";

Schema parse_ok(std::string_view ddl) {
  Result<Schema> schema = parse_ddl(ddl);
  EXPECT_TRUE(schema.ok()) << ddl << ": " << schema.status().message();
  return schema.ok() ? std::move(schema).value() : Schema{};
}

std::string parse_error(std::string_view ddl) {
  Result<Schema> schema = parse_ddl(ddl);
  EXPECT_FALSE(schema.ok()) << "'" << ddl << "' should not parse";
  if (schema.ok()) return "";
  EXPECT_EQ(schema.status().kind(), ErrorKind::kFatal);
  EXPECT_THAT(schema.status().message(), StartsWith("SCHEMA: "));
  return schema.status().message();
}

TEST(ParseDdl, DefaultEventSchema) {
  const Schema schema = parse_ok(kDefaultSchema);
  ASSERT_EQ(schema.columns.size(), 4u);
  EXPECT_EQ(schema.columns[0].name, "event_id");
  EXPECT_EQ(schema.columns[0].type, ColumnType::kString);
  EXPECT_EQ(schema.columns[1].name, "ts");
  EXPECT_EQ(schema.columns[1].type, ColumnType::kTimestamp);
  EXPECT_EQ(schema.columns[2].type, ColumnType::kDouble);
  EXPECT_EQ(schema.columns[3].type, ColumnType::kString);
  const auto expected = arrow::schema({
      arrow::field("event_id", arrow::utf8()),
      arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
      arrow::field("value", arrow::float64()),
      arrow::field("source", arrow::utf8()),
  });
  ASSERT_NE(schema.arrow_schema, nullptr);
  EXPECT_TRUE(schema.arrow_schema->Equals(*expected)) << schema.arrow_schema->ToString();
}

TEST(ParseDdl, EveryTypeAndAliasMapsToItsArrowType) {
  struct Case {
    const char* ddl_type;
    ColumnType type;
    std::shared_ptr<arrow::DataType> arrow_type;
  };
  const Case cases[] = {
      {"STRING", ColumnType::kString, arrow::utf8()},
      {"BIGINT", ColumnType::kInt64, arrow::int64()},
      {"LONG", ColumnType::kInt64, arrow::int64()},
      {"INT", ColumnType::kInt32, arrow::int32()},
      {"INTEGER", ColumnType::kInt32, arrow::int32()},
      {"DOUBLE", ColumnType::kDouble, arrow::float64()},
      {"FLOAT", ColumnType::kFloat, arrow::float32()},
      {"REAL", ColumnType::kFloat, arrow::float32()},
      {"BOOLEAN", ColumnType::kBoolean, arrow::boolean()},
      {"TIMESTAMP", ColumnType::kTimestamp, arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")},
      {"DATE", ColumnType::kDate, arrow::date32()},
      {"SMALLINT", ColumnType::kInt16, arrow::int16()},
      {"SHORT", ColumnType::kInt16, arrow::int16()},
      {"TINYINT", ColumnType::kInt8, arrow::int8()},
      {"BYTE", ColumnType::kInt8, arrow::int8()},
      {"BINARY", ColumnType::kBinary, arrow::binary()},
      {"TIMESTAMP_NTZ", ColumnType::kTimestampNtz, arrow::timestamp(arrow::TimeUnit::MICRO)},
      {"TIMESTAMP_LTZ", ColumnType::kTimestamp, arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")},
      {"DECIMAL", ColumnType::kDecimal, arrow::decimal128(10, 0)},
      {"DECIMAL(5)", ColumnType::kDecimal, arrow::decimal128(5, 0)},
      {"DECIMAL(10, 2)", ColumnType::kDecimal, arrow::decimal128(10, 2)},
      {"DEC(38,38)", ColumnType::kDecimal, arrow::decimal128(38, 38)},
      {"NUMERIC(1,0)", ColumnType::kDecimal, arrow::decimal128(1, 0)},
      {"VARCHAR(10)", ColumnType::kString, arrow::utf8()},
      {"CHAR(3)", ColumnType::kString, arrow::utf8()},
  };
  for (const Case& c : cases) {
    std::string lower(c.ddl_type);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (const std::string& spelling : {std::string(c.ddl_type), lower}) {
      const Schema schema = parse_ok("x " + spelling);
      ASSERT_EQ(schema.columns.size(), 1u);
      EXPECT_EQ(schema.columns[0].type, c.type) << spelling;
      EXPECT_TRUE(schema.arrow_schema->field(0)->type()->Equals(*c.arrow_type)) << spelling;
      EXPECT_TRUE(schema.arrow_schema->field(0)->nullable());
    }
  }
}

TEST(ParseDdl, TypesAreCaseInsensitive) {
  const Schema schema = parse_ok("a string, b Timestamp, c bigInt, d date");
  EXPECT_EQ(schema.columns[0].type, ColumnType::kString);
  EXPECT_EQ(schema.columns[1].type, ColumnType::kTimestamp);
  EXPECT_EQ(schema.columns[2].type, ColumnType::kInt64);
  EXPECT_EQ(schema.columns[3].type, ColumnType::kDate);
}

TEST(ParseDdl, WhitespaceAndNewlines) {
  const Schema schema = parse_ok("  \n\tevent_id   STRING ,\n ts\tTIMESTAMP\n,value DOUBLE  ");
  ASSERT_EQ(schema.columns.size(), 3u);
  EXPECT_EQ(schema.columns[2].name, "value");
}

TEST(ParseDdl, BackquotedNames) {
  const Schema schema = parse_ok("`my col` STRING, `a``b` INT, `ts,x` TIMESTAMP, `1st` DATE");
  ASSERT_EQ(schema.columns.size(), 4u);
  EXPECT_EQ(schema.columns[0].name, "my col");
  EXPECT_EQ(schema.columns[1].name, "a`b");
  EXPECT_EQ(schema.columns[2].name, "ts,x");
  EXPECT_EQ(schema.arrow_schema->field(0)->name(), "my col");
}

TEST(ParseDdl, NamesKeepTheirCase) {
  const Schema schema = parse_ok("EventId STRING");
  EXPECT_EQ(schema.columns[0].name, "EventId");
  EXPECT_EQ(schema.arrow_schema->field(0)->name(), "EventId");
}

TEST(ParseDdl, NotNullIsKeptAndMakesTheArrowFieldRequired) {
  const Schema schema = parse_ok("id STRING NOT NULL, ts TIMESTAMP not null, v DOUBLE");
  EXPECT_FALSE(schema.columns[0].nullable);
  EXPECT_FALSE(schema.columns[1].nullable);
  EXPECT_TRUE(schema.columns[2].nullable);
  EXPECT_FALSE(schema.arrow_schema->field(0)->nullable());
  EXPECT_TRUE(schema.arrow_schema->field(2)->nullable());
}

TEST(ParseDdl, CommentIsAcceptedAndIgnored) {
  const Schema schema = parse_ok("id STRING NOT NULL COMMENT 'the id, unique', v DOUBLE COMMENT \"it's \\\"fine\\\"\"");
  ASSERT_EQ(schema.columns.size(), 2u);
  EXPECT_EQ(schema.columns[1].name, "v");
}

TEST(ParseDdl, IndexOfIsCaseInsensitive) {
  const Schema schema = parse_ok(kDefaultSchema);
  EXPECT_EQ(schema.index_of("ts"), 1);
  EXPECT_EQ(schema.index_of("TS"), 1);
  EXPECT_EQ(schema.index_of("Source"), 3);
  EXPECT_EQ(schema.index_of("dt"), -1);
  EXPECT_EQ(schema.index_of(""), -1);
}

TEST(ParseDdlErrors, UnknownTypeNamesColumnPositionAndAlternatives) {
  EXPECT_EQ(parse_error("x STRNG"),
            std::string("SCHEMA: unknown type 'STRNG' for column 'x' at position 3 ") + kExpectedTypes);
  EXPECT_THAT(parse_error("a INT, user STRUCT<id: INT, tags: ARRAY<STRNG>>"),
              HasSubstr("unknown type 'STRNG' for field 'user.tags.element' at position 41"));
  EXPECT_THAT(parse_error("i INTERVAL"), HasSubstr("unsupported type 'INTERVAL' for column 'i' at position 3"));
}

TEST(ParseDdlErrors, BadParametersAndBrackets) {
  EXPECT_THAT(parse_error("p DECIMAL(39, 2)"), HasSubstr("DECIMAL(39, 2) of column 'p' at position 3: the precision"));
  EXPECT_THAT(parse_error("p DECIMAL(5, 6)"), HasSubstr("the scale 0 to the precision"));
  EXPECT_THAT(parse_error("p DECIMAL(5, 2, 1)"), HasSubstr("bad parameters of DECIMAL for column 'p'"));
  EXPECT_THAT(parse_error("p DECIMAL(x)"), HasSubstr("bad parameters of DECIMAL for column 'p' at position 10"));
  EXPECT_THAT(parse_error("v VARCHAR"), HasSubstr("VARCHAR of column 'v' needs 1 parameter(s)"));
  EXPECT_THAT(parse_error("t ARRAY"), HasSubstr("ARRAY of column 't' needs its type in <...> at position 8"));
  EXPECT_THAT(parse_error("t ARRAY<INT"), HasSubstr("expected '>' to close the ARRAY of column 't' at position 12, got "
                                                    "the end of the schema"));
  EXPECT_THAT(parse_error("s STRUCT<a INT"), HasSubstr("expected '>' to close the STRUCT of 's'"));
  EXPECT_THAT(parse_error("s STRUCT<a INT,>"), HasSubstr("trailing comma"));
  EXPECT_THAT(parse_error("s STRUCT<a INT b INT>"),
              HasSubstr("expected ',' or '>' after field 's.a' at position 16, got 'b'"));
  EXPECT_THAT(parse_error("m MAP<INT, STRING>"),
              HasSubstr("the MAP column 'm' has keys of type INT at position 7; JSON object keys are strings"));
  EXPECT_THAT(parse_error("m MAP<STRING>"), HasSubstr("expected ',' between the key and value types of the MAP"));
  EXPECT_THAT(parse_error("s STRUCT<a: INT, A: STRING>"), HasSubstr("duplicate field 's.A' at position 18"));
  EXPECT_THAT(parse_error("a INT>"), HasSubstr("expected ',' or the end after column 'a' at position 6, got '>'"));
}

TEST(ParseDdlErrors, InvalidUtf8IsRefused) {
  EXPECT_THAT(parse_error("`a\xff` STRING"), HasSubstr("the schema is not valid UTF-8"));
  parse_ok("`caf\xc3\xa9` STRING COMMENT '\xe2\x82\xac'");
}

TEST(ParseDdlErrors, DepthIsBounded) {
  std::string ddl = "a ";
  for (int i = 0; i < kMaxSchemaDepth + 1; ++i) ddl += "ARRAY<";
  ddl += "INT";
  for (int i = 0; i < kMaxSchemaDepth + 1; ++i) ddl += ">";
  EXPECT_THAT(parse_error(ddl), HasSubstr("nests deeper than 64 levels"));
  std::string ok = "a ";
  for (int i = 0; i < kMaxSchemaDepth; ++i) ok += "ARRAY<";
  ok += "INT";
  for (int i = 0; i < kMaxSchemaDepth; ++i) ok += ">";
  parse_ok(ok);
}

TEST(ParseDdl, NestedTypesMapToArrowNestedTypes) {
  const Schema schema = parse_ok(
      "user STRUCT<id: BIGINT NOT NULL, tags: ARRAY<STRING>> COMMENT 'who', "
      "items ARRAY<STRUCT<sku STRING, price DECIMAL(10,2), `odd name`: MAP<STRING, ARRAY<INT>>>>, "
      "attrs MAP<STRING, STRING> NOT NULL, empty STRUCT<>");
  ASSERT_EQ(schema.columns.size(), 4u);
  const ColumnSpec& user = schema.columns[0];
  EXPECT_EQ(user.type, ColumnType::kStruct);
  EXPECT_EQ(user.comment, "who");
  ASSERT_EQ(user.children.size(), 2u);
  EXPECT_FALSE(user.children[0].nullable);
  EXPECT_EQ(user.children[1].type, ColumnType::kArray);
  EXPECT_EQ(user.children[1].children[0].type, ColumnType::kString);
  const auto price = schema.columns[1].children[0].children[1];
  EXPECT_EQ(price.type, ColumnType::kDecimal);
  EXPECT_EQ(price.precision, 10);
  EXPECT_EQ(price.scale, 2);
  EXPECT_FALSE(schema.columns[2].nullable);
  EXPECT_TRUE(schema.columns[3].children.empty());
  const auto expected = arrow::schema({
      arrow::field("user", arrow::struct_({arrow::field("id", arrow::int64(), false),
                                           arrow::field("tags", arrow::list(arrow::field("element", arrow::utf8())))})),
      arrow::field(
          "items",
          arrow::list(arrow::field(
              "element",
              arrow::struct_({arrow::field("sku", arrow::utf8()), arrow::field("price", arrow::decimal128(10, 2)),
                              arrow::field("odd name", arrow::map(arrow::utf8(), arrow::list(arrow::field(
                                                                                     "element", arrow::int32()))))})))),
      arrow::field("attrs", arrow::map(arrow::utf8(), arrow::utf8()), false),
      arrow::field("empty", arrow::struct_({})),
  });
  EXPECT_TRUE(schema.arrow_schema->Equals(*expected)) << schema.arrow_schema->ToString();
}

TEST(ParseDdl, CanonicalDdlParsesBackToTheSameSchema) {
  for (const char* ddl : {
           "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING",
           "a struct<b: array<map<string, decimal(38,0)>> not null comment 'it\\'s', `c d`: binary> comment 'x\\y'",
           "`we``ird` TINYINT NOT NULL, s SMALLINT, n TIMESTAMP_NTZ, d DATE, e STRUCT<>",
       }) {
    const Schema first = parse_ok(ddl);
    const std::string canonical = to_ddl(first.columns);
    const Schema second = parse_ok(canonical);
    EXPECT_EQ(to_ddl(second.columns), canonical) << ddl;
    EXPECT_TRUE(first.arrow_schema->Equals(*second.arrow_schema)) << canonical;
  }
  EXPECT_EQ(to_ddl(parse_ok("a array<struct<x int not null>>, `b c` decimal(5,1) comment 'hi'").columns),
            "a ARRAY<STRUCT<x: INT NOT NULL>>, `b c` DECIMAL(5,1) COMMENT 'hi'");
}

TEST(ParseDdlErrors, EmptySchema) {
  EXPECT_THAT(parse_error(""), HasSubstr("the schema is empty"));
  EXPECT_THAT(parse_error("  \t\n"), HasSubstr("the schema is empty"));
}

TEST(ParseDdlErrors, DuplicateColumnsAreCaseInsensitive) {
  EXPECT_EQ(parse_error("a STRING, b INT, a DOUBLE"),
            "SCHEMA: duplicate column 'a' at position 18 (names are case-insensitive)");
  EXPECT_THAT(parse_error("ts TIMESTAMP, TS STRING"), HasSubstr("duplicate column 'TS'"));
}

TEST(ParseDdlErrors, MissingType) {
  EXPECT_EQ(parse_error("a"), "SCHEMA: column 'a' has no type");
  EXPECT_EQ(parse_error("a, b INT"), "SCHEMA: column 'a' has no type");
  EXPECT_THAT(parse_error("a ;INT"), HasSubstr("expected a type for column 'a' at position 3, got ';INT'"));
}

TEST(ParseDdlErrors, Separators) {
  EXPECT_THAT(parse_error("a STRING,"), HasSubstr("trailing comma"));
  EXPECT_THAT(parse_error("a STRING, , b INT"), HasSubstr("expected a column name at position 11, got ','"));
  EXPECT_THAT(parse_error(", a STRING"), HasSubstr("expected a column name at position 1"));
  EXPECT_THAT(parse_error("a STRING b INT"),
              HasSubstr("expected ',' or the end after column 'a' at position 10, got 'b'"));
  EXPECT_THAT(parse_error("a STRING; b INT"), HasSubstr("got ';'"));
}

TEST(ParseDdlErrors, BadNames) {
  EXPECT_THAT(parse_error("`a STRING"), HasSubstr("unterminated backquoted column name starting at position 1"));
  EXPECT_THAT(parse_error("`` STRING"), HasSubstr("empty column name at position 1"));
  EXPECT_THAT(parse_error("my-col STRING"), HasSubstr("column 'my' at position 3, got '-col'"));
  EXPECT_THAT(parse_error("s STRUCT<`x STRING>"),
              HasSubstr("unterminated backquoted field name starting at position 10"));
  EXPECT_THAT(parse_error("\"a\" STRING"), HasSubstr("expected a column name at position 1"));
}

TEST(ParseDdlErrors, BadModifiers) {
  EXPECT_THAT(parse_error("a STRING NOT"), HasSubstr("expected NULL after NOT for column 'a'"));
  EXPECT_THAT(parse_error("a STRING NOT NUL"), HasSubstr("expected NULL after NOT for column 'a'"));
  EXPECT_THAT(parse_error("a STRING COMMENT"), HasSubstr("expected a quoted comment after COMMENT for column 'a'"));
  EXPECT_THAT(parse_error("a STRING COMMENT 'oops"), HasSubstr("unterminated comment for column 'a'"));
  EXPECT_THAT(parse_error("a STRING NULL"), HasSubstr("got 'NULL'"));
}

TEST(ColumnTypeName, CanonicalNames) {
  EXPECT_EQ(column_type_name(ColumnType::kString), "STRING");
  EXPECT_EQ(column_type_name(ColumnType::kInt64), "BIGINT");
  EXPECT_EQ(column_type_name(ColumnType::kInt32), "INT");
  EXPECT_EQ(column_type_name(ColumnType::kDouble), "DOUBLE");
  EXPECT_EQ(column_type_name(ColumnType::kFloat), "FLOAT");
  EXPECT_EQ(column_type_name(ColumnType::kBoolean), "BOOLEAN");
  EXPECT_EQ(column_type_name(ColumnType::kTimestamp), "TIMESTAMP");
  EXPECT_EQ(column_type_name(ColumnType::kDate), "DATE");
}

TEST(FindPartitionColumn, ResolvesTimestampOrDateCaseInsensitively) {
  const Schema schema = parse_ok("id STRING, ts TIMESTAMP, day DATE");
  EXPECT_EQ(*find_partition_column(schema, "ts"), 1);
  EXPECT_EQ(*find_partition_column(schema, "TS"), 1);
  EXPECT_EQ(*find_partition_column(schema, "day"), 2);
}

TEST(FindPartitionColumn, ErrorsNameTheSetting) {
  const Schema schema = parse_ok("id STRING, ts TIMESTAMP");
  Result<int> missing = find_partition_column(schema, "event_time");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "PARTITION_FROM: column 'event_time' is not in SCHEMA (columns: id, ts)");
  Result<int> wrong_type = find_partition_column(schema, "id");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().message(),
            "PARTITION_FROM: column 'id' is STRING; the partition column must be TIMESTAMP or DATE");
}

}  // namespace
}  // namespace kpipe
