#include "decode/schema_json.h"

#include <arrow/type.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

using ::testing::HasSubstr;

// What PySpark 3.5.1 prints for this schema (StructType.json()), keys in its order.
constexpr std::string_view kSparkJson =
    R"js({"fields":[{"metadata":{"comment":"who"},"name":"user","nullable":true,"type":{"fields":[{"metadata":{},"name":"id","nullable":false,"type":"long"},{"metadata":{},"name":"tags","nullable":true,"type":{"containsNull":true,"elementType":"string","type":"array"}}],"type":"struct"}},{"metadata":{},"name":"items","nullable":true,"type":{"containsNull":false,"elementType":{"fields":[{"metadata":{},"name":"sku","nullable":true,"type":"string"},{"metadata":{},"name":"price","nullable":true,"type":"decimal(10,2)"}],"type":"struct"},"type":"array"}},{"metadata":{},"name":"attrs","nullable":true,"type":{"keyType":"string","type":"map","valueContainsNull":false,"valueType":"string"}},{"metadata":{},"name":"b","nullable":true,"type":"binary"},{"metadata":{},"name":"t","nullable":true,"type":"byte"},{"metadata":{},"name":"s","nullable":true,"type":"short"},{"metadata":{},"name":"ntz","nullable":true,"type":"timestamp_ntz"},{"metadata":{},"name":"ts","nullable":true,"type":"timestamp"},{"metadata":{},"name":"d","nullable":true,"type":"date"},{"metadata":{},"name":"f","nullable":true,"type":"float"},{"metadata":{},"name":"x","nullable":true,"type":"double"},{"metadata":{},"name":"ok","nullable":true,"type":"boolean"},{"metadata":{},"name":"n","nullable":true,"type":"integer"}],"type":"struct"})js";

// The same schema as DDL (Spark's simpleString, upper-cased), with the comment.
constexpr std::string_view kSameDdl =
    "user STRUCT<id: BIGINT NOT NULL, tags: ARRAY<STRING>> COMMENT 'who', "
    "items ARRAY<STRUCT<sku: STRING, price: DECIMAL(10,2)>>, attrs MAP<STRING, STRING>, b BINARY, t TINYINT, "
    "s SMALLINT, ntz TIMESTAMP_NTZ, ts TIMESTAMP, d DATE, f FLOAT, x DOUBLE, ok BOOLEAN, n INT";

std::string error_of(std::string_view json) {
  auto s = parse_schema_json(json, "SCHEMA_FILE=s.json");
  EXPECT_FALSE(s.ok()) << json;
  if (s.ok()) return "";
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  return s.status().message();
}

TEST(SchemaJson, SparksStructTypeJsonIsTheSameSchemaAsItsDdl) {
  auto from_json = parse_schema_json(kSparkJson, "SCHEMA_FILE=s.json");
  ASSERT_TRUE(from_json.ok()) << from_json.status().message();
  auto from_ddl = parse_ddl(kSameDdl);
  ASSERT_TRUE(from_ddl.ok()) << from_ddl.status().message();
  EXPECT_EQ(to_ddl(from_json->columns), kSameDdl);
  EXPECT_TRUE(from_json->arrow_schema->Equals(*from_ddl->arrow_schema)) << from_json->arrow_schema->ToString();
  EXPECT_EQ(from_json->columns[0].comment, "who");
}

TEST(SchemaJson, WrittenJsonReadsBackAndMatchesSparksFieldForField) {
  auto ddl = parse_ddl(kSameDdl);
  ASSERT_TRUE(ddl.ok());
  const std::string json = schema_json(ddl->columns);
  auto back = parse_schema_json(json, "written");
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << json;
  EXPECT_EQ(to_ddl(back->columns), kSameDdl);
  // Spark's field objects, in kpipe's key order (name, type, nullable, metadata).
  EXPECT_EQ(field_json(ddl->columns[0]),
            R"({"name":"user","type":{"type":"struct","fields":[{"name":"id","type":"long","nullable":false,)"
            R"("metadata":{}},{"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},)"
            R"("nullable":true,"metadata":{}}]},"nullable":true,"metadata":{"comment":"who"}})");
  EXPECT_EQ(type_json(ddl->columns[2]),
            R"({"type":"map","keyType":"string","valueType":"string","valueContainsNull":true})");
  EXPECT_EQ(type_json(ddl->columns[1].children[0].children[1]), R"js("decimal(10,2)")js");
}

TEST(SchemaJson, ErrorsNameTheFieldPath) {
  EXPECT_THAT(error_of("not json"), HasSubstr("SCHEMA_FILE=s.json: the schema is not JSON"));
  EXPECT_THAT(error_of(R"({"type":"array"})"), HasSubstr("the schema is not a struct"));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[]})"), HasSubstr("has no fields"));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"name":"u","type":{"type":"struct","fields":[)"
                       R"({"name":"tags","type":{"type":"array","elementType":"varint"}}]}}]})"),
              HasSubstr("field 'u.tags.element' has the unknown or unsupported type 'varint'"));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"name":"m","type":{"type":"map","keyType":"integer",)"
                       R"("valueType":"string"}}]})"),
              HasSubstr("field 'm' is a map with keys of type INT"));
  EXPECT_THAT(error_of(R"js({"type":"struct","fields":[{"name":"p","type":"decimal(40,2)"}]})js"),
              HasSubstr("field 'p' has the type 'decimal(40,2)': the precision must be 1 to 38"));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"name":"p","type":"decimal(4"}]})"),
              HasSubstr("expected decimal(p,s)"));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"name":"a","type":"string"},{"name":"A","type":"long"}]})"),
              HasSubstr("field 'A' appears twice"));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"type":"string"}]})"), HasSubstr("without a \"name\""));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"name":"x"}]})"), HasSubstr("field 'x' has no \"type\""));
  EXPECT_THAT(error_of(R"({"type":"struct","fields":[{"name":"x","type":"string","nullable":"no"}]})"),
              HasSubstr("\"nullable\" that is not true or false"));
  std::string deep = R"({"type":"struct","fields":[{"name":"a","type":)";
  for (int i = 0; i < kMaxSchemaDepth + 1; ++i) deep += R"({"type":"array","elementType":)";
  deep += R"("string")";
  for (int i = 0; i < kMaxSchemaDepth + 1; ++i) deep += "}";
  deep += "}]}";
  EXPECT_THAT(error_of(deep), HasSubstr("nests deeper than 64 levels"));
}

TEST(SchemaJson, DdlAcceptsSparksSimpleStringForm) {
  auto s = parse_ddl("struct<user:struct<id:bigint,tags:array<string>>,price:decimal(10,2)>");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(to_ddl(s->columns), "user STRUCT<id: BIGINT, tags: ARRAY<STRING>>, price DECIMAL(10,2)");
  EXPECT_FALSE(parse_ddl("struct<a:int> b INT").ok());
  EXPECT_FALSE(parse_ddl("struct<>").ok());
}

}  // namespace
}  // namespace kpipe
