// The table schema of a Delta log (metaData.schemaString, PROTOCOL.md "Schema Serialization
// Format") from kpipe's record schema, and the check a restart makes against the table's schema.
//
// kpipe's table is its SCHEMA's columns plus `dt DATE`, the partition column, which lives in the
// folder names (dt=YYYY-MM-DD) and not in the Parquet files, as Spark's partitionBy writes it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "decode/schema.h"

namespace kpipe {

inline constexpr std::string_view kDeltaPartitionColumn = "dt";

// One top-level field of a Delta schema. `type` is the type as JSON text: a quoted primitive
// name ("\"long\"") or, for a nested type, the minified object; `json` is the whole field object.
struct DeltaField {
  std::string name;
  std::string type;
  bool nullable = true;
  std::string json;
};

// True when a field at any depth is TIMESTAMP_NTZ: the table then needs the timestampNtz feature
// (reader version 3, writer version 7).
bool needs_timestamp_ntz(const std::vector<ColumnSpec>& columns);

// The schemaString of kpipe's table for `schema`: its columns, then dt DATE. A column named dt
// (any case) is an error naming it: it would shadow the partition column.
Result<std::string> delta_schema_string(const Schema& schema);

// The top-level fields of a schemaString; an error names `what` (e.g. the log file) when it is not
// a Delta struct schema.
Result<std::vector<DeltaField>> parse_delta_schema(std::string_view schema_string, std::string_view what);

// How the schema of the batches to come relates to the table's.
struct SchemaChange {
  bool compatible = true;
  std::string reason;                // why not, when not compatible
  std::vector<std::string> added;    // new nullable columns, in SCHEMA order
  std::string merged_schema_string;  // the table's fields, then the added ones (when compatible)
};

// Compatible: every table field is in `ours` (names compared ASCII case-insensitively, as Delta
// resolves columns) with the same type, and NOT NULL only where ours is NOT NULL too; fields of
// ours that the table lacks are added when nullable. Anything else (a column dropped, a type
// changed, a new NOT NULL column) is incompatible.
SchemaChange compare_schemas(const std::vector<DeltaField>& table, const std::vector<DeltaField>& ours);

}  // namespace kpipe
