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
    "(expected STRING, BIGINT, LONG, INT, INTEGER, DOUBLE, FLOAT, REAL, BOOLEAN, TIMESTAMP, DATE)";

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

TEST(ParseDdlErrors, UnknownTypeNamesColumnAndAlternatives) {
  EXPECT_EQ(parse_error("x STRNG"), std::string("SCHEMA: unknown type 'STRNG' for column 'x' ") + kExpectedTypes);
}

TEST(ParseDdlErrors, UnsupportedSparkTypesAreReportedWhole) {
  EXPECT_EQ(parse_error("a STRING, price DECIMAL(10, 2)"),
            std::string("SCHEMA: unsupported type 'DECIMAL(10, 2)' for column 'price' ") + kExpectedTypes);
  EXPECT_THAT(parse_error("tags ARRAY<STRING>, b INT"),
              HasSubstr("unsupported type 'ARRAY<STRING>' for column 'tags'"));
  EXPECT_THAT(parse_error("m MAP<STRING, INT>"), HasSubstr("unsupported type 'MAP<STRING, INT>'"));
  EXPECT_THAT(parse_error("n SMALLINT"), HasSubstr("unsupported type 'SMALLINT'"));
}

TEST(ParseDdlErrors, EmptySchema) {
  EXPECT_THAT(parse_error(""), HasSubstr("the schema is empty"));
  EXPECT_THAT(parse_error("  \t\n"), HasSubstr("the schema is empty"));
}

TEST(ParseDdlErrors, DuplicateColumnsAreCaseInsensitive) {
  EXPECT_EQ(parse_error("a STRING, b INT, a DOUBLE"),
            "SCHEMA: duplicate column 'a' (column names are case-insensitive)");
  EXPECT_THAT(parse_error("ts TIMESTAMP, TS STRING"), HasSubstr("duplicate column 'TS'"));
}

TEST(ParseDdlErrors, MissingType) {
  EXPECT_EQ(parse_error("a"), "SCHEMA: column 'a' has no type");
  EXPECT_EQ(parse_error("a, b INT"), "SCHEMA: column 'a' has no type");
  EXPECT_THAT(parse_error("a :INT"), HasSubstr("expected a type for column 'a' at position 3, got ':INT'"));
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
