// Spark's StructType JSON: what `df.schema.json()` prints, what SCHEMA_FILE holds, and what a
// Delta log's metaData.schemaString is (PROTOCOL.md "Schema Serialization Format"):
//
//   {"type":"struct","fields":[{"name":"a","type":"integer","nullable":true,"metadata":{}}, ...]}
//   types: "string" "long" "integer" "short" "byte" "double" "float" "boolean" "binary" "date"
//          "timestamp" "timestamp_ntz" "decimal(p,s)"
//          {"type":"struct","fields":[...]}
//          {"type":"array","elementType":T,"containsNull":true}
//          {"type":"map","keyType":"string","valueType":T,"valueContainsNull":true}
//   A field's comment is metadata {"comment": "..."}, as Spark writes it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "decode/schema.h"

namespace kpipe {

// Parses a StructType JSON document into a Schema (arrow_schema filled). Errors are
// Status::fatal(kInvalidArgument), start with `what` (e.g. "SCHEMA_FILE=/path/x.json") and name the
// field's path ("user.tags: unknown type 'varchar'").
Result<Schema> parse_schema_json(std::string_view json, std::string_view what);

// The StructType JSON of one field ({"name":..,"type":..,"nullable":..,"metadata":{..}}), of one
// type (a quoted name or an object), and of a list of columns (the whole struct).
std::string field_json(const ColumnSpec& column);
std::string type_json(const ColumnSpec& column);
std::string schema_json(const std::vector<ColumnSpec>& columns);

}  // namespace kpipe
