// The record schema: a Spark DDL string (the SCHEMA setting) parsed into typed columns and the
// Arrow schema every sink writes.
//
// Grammar (what Spark's `StructType.fromDDL` accepts for flat schemas):
//
//   schema  := column (',' column)*
//   column  := name type [NOT NULL] [COMMENT 'text']
//   name    := [A-Za-z0-9_]+ | `any text, `` for a literal backquote`
//   type    := one of the names below, case-insensitive
//
//   STRING                → utf8
//   BIGINT, LONG          → int64
//   INT, INTEGER          → int32
//   DOUBLE                → float64
//   FLOAT, REAL           → float32
//   BOOLEAN               → bool
//   TIMESTAMP             → timestamp[us, tz=UTC]
//   DATE                  → date32
//
// NOT NULL is enforced, not ignored: a record whose NOT NULL column is missing or null is a bad
// record, and the Arrow field is non-nullable (Parquet REQUIRED). Spark's from_json silently
// drops nullability; we keep the promise the user wrote. COMMENT is accepted and ignored.
// Column names are compared case-insensitively for duplicates and index_of (as Spark resolves
// columns), but JSON field names must match exactly (as from_json does).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/type_fwd.h>

#include "common/status.h"

namespace kpipe {

enum class ColumnType { kString, kInt64, kInt32, kDouble, kFloat, kBoolean, kTimestamp, kDate };

struct ColumnSpec {
  std::string name;
  ColumnType type;
  bool nullable = true;  // false when the DDL says NOT NULL
};

struct Schema {
  std::vector<ColumnSpec> columns;
  std::shared_ptr<arrow::Schema> arrow_schema;  // one field per column, same order and names
  // Index of the column named `name`, ASCII case-insensitive; -1 if there is none.
  int index_of(std::string_view name) const;
};

// Parses a Spark DDL string such as "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING".
// Errors are Status::fatal, start with "SCHEMA: " and quote the offending part.
Result<Schema> parse_ddl(std::string_view ddl);

// The canonical DDL name of a type: "STRING", "BIGINT", "INT", "DOUBLE", "FLOAT", "BOOLEAN",
// "TIMESTAMP", "DATE".
std::string_view column_type_name(ColumnType type);

// Resolves PARTITION_FROM: the index of the TIMESTAMP or DATE column named `name`
// (case-insensitive). Errors are Status::fatal and start with "PARTITION_FROM: ".
Result<int> find_partition_column(const Schema& schema, std::string_view name);

}  // namespace kpipe
