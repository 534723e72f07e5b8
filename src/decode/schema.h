// The record schema: a Spark DDL string (the SCHEMA setting) or Spark StructType JSON (the
// SCHEMA_FILE setting, what `df.schema.json()` prints) parsed into a tree of typed fields, and the
// Arrow schema every sink writes.
//
// DDL grammar (what Spark's `StructType.fromDDL` accepts):
//
//   schema  := column (',' column)*
//   column  := name [':'] type [NOT NULL] [COMMENT 'text']
//   name    := [A-Za-z0-9_]+ | `any text, `` for a literal backquote`
//   type    := primitive | STRUCT<column, ...> | ARRAY<type> | MAP<STRING, type>
//
//   STRING, VARCHAR(n), CHAR(n) → utf8            DECIMAL(p, s), DEC, NUMERIC → decimal128(p, s)
//   BIGINT, LONG                → int64           (p 1..38, 0 <= s <= p; DECIMAL alone = (10, 0))
//   INT, INTEGER                → int32           BINARY → binary (base64 text in JSON, as Spark)
//   SMALLINT, SHORT             → int16           TIMESTAMP → timestamp[us, tz=UTC]
//   TINYINT, BYTE               → int8            TIMESTAMP_NTZ → timestamp[us] (no zone)
//   DOUBLE                      → float64         DATE → date32
//   FLOAT, REAL                 → float32         BOOLEAN → bool
//
//   STRUCT<a: T, ...>  → struct (fields keep their order; NOT NULL and COMMENT allowed inside)
//   ARRAY<T>           → list<element: T> (elements nullable, as Spark's containsNull = true)
//   MAP<STRING, T>     → map<utf8, T> (values nullable; JSON object keys are always strings)
//
// Types nest to kMaxSchemaDepth levels. NOT NULL is enforced, not ignored: a record whose NOT NULL
// field is missing or null is a bad record, and the Arrow field is non-nullable (Parquet
// REQUIRED). Spark's from_json silently drops nullability; we keep the promise the user wrote.
// COMMENT is kept (it goes into the Delta schema's metadata as Spark writes it).
// Field names are compared case-insensitively for duplicates and index_of (as Spark resolves
// columns), but JSON field names must match exactly (as from_json does).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/type_fwd.h>

#include "common/status.h"

namespace kpipe {

enum class ColumnType {
  kString,
  kInt64,
  kInt32,
  kDouble,
  kFloat,
  kBoolean,
  kTimestamp,
  kDate,
  kInt16,         // SMALLINT
  kInt8,          // TINYINT
  kDecimal,       // DECIMAL(precision, scale), Decimal128
  kBinary,        // BINARY: base64 text in JSON
  kTimestampNtz,  // TIMESTAMP_NTZ: micros since the epoch of a wall-clock time, no zone
  kStruct,        // children: the fields, in order
  kArray,         // children: one, the element (named "element")
  kMap,           // children: two, "key" (STRING, NOT NULL) and "value"
};

// Where a top-level column's value comes from: the JSON payload, or (KAFKA_COLUMNS) the Kafka
// record itself, with Spark's Kafka source names and types.
enum class KafkaField : uint8_t {
  kNone,           // a field of the JSON payload
  kKey,            // key BINARY
  kTopic,          // topic STRING
  kPartition,      // partition INT
  kOffset,         // offset BIGINT
  kTimestamp,      // timestamp TIMESTAMP
  kTimestampType,  // timestampType INT
  kHeaders,        // headers ARRAY<STRUCT<key: STRING, value: BINARY>>
};

inline constexpr int kMaxSchemaDepth = 64;  // nesting levels of STRUCT/ARRAY/MAP
inline constexpr int kMaxDecimalPrecision = 38;

// One field of the schema tree: a top-level column, a struct's field, an array's element or a
// map's key or value.
struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kString;
  bool nullable = true;  // false when the DDL says NOT NULL
  int precision = 0;     // DECIMAL only
  int scale = 0;         // DECIMAL only
  std::vector<ColumnSpec> children;
  std::string comment;                   // COMMENT '...', unescaped; empty when none
  KafkaField kafka = KafkaField::kNone;  // top-level columns only
};

struct Schema {
  std::vector<ColumnSpec> columns;
  std::shared_ptr<arrow::Schema> arrow_schema;  // one field per column, same order and names
  // Index of the column named `name`, ASCII case-insensitive; -1 if there is none.
  int index_of(std::string_view name) const;
};

// The Arrow type of a field (recursively) and the Arrow schema of columns.
std::shared_ptr<arrow::DataType> arrow_type(const ColumnSpec& column);
std::shared_ptr<arrow::Schema> arrow_schema(const std::vector<ColumnSpec>& columns);

// The canonical DDL of a field's type ("DECIMAL(10,2)", "ARRAY<STRUCT<a: INT NOT NULL>>"), and of
// a whole schema ("a INT, b STRING NOT NULL COMMENT 'x'"); parse_ddl(to_ddl(s)) gives s back.
std::string type_ddl(const ColumnSpec& column);
std::string to_ddl(const std::vector<ColumnSpec>& columns);

// Parses a Spark DDL string such as "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING".
// Errors are Status::fatal, start with "SCHEMA: " and quote the offending part.
Result<Schema> parse_ddl(std::string_view ddl);

// The canonical DDL name of a type, without parameters: "STRING", "BIGINT", "INT", "DOUBLE",
// "FLOAT", "BOOLEAN", "TIMESTAMP", "DATE", "SMALLINT", "TINYINT", "DECIMAL", "BINARY",
// "TIMESTAMP_NTZ", "STRUCT", "ARRAY", "MAP".
std::string_view column_type_name(ColumnType type);

// Resolves PARTITION_FROM: the index of the TIMESTAMP or DATE column named `name`
// (case-insensitive). Errors are Status::fatal and start with "PARTITION_FROM: ".
Result<int> find_partition_column(const Schema& schema, std::string_view name);

}  // namespace kpipe
