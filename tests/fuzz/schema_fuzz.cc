// libFuzzer target for the SCHEMA setting: parse_ddl (a Spark DDL string, user input) and
// find_partition_column (PARTITION_FROM). Beyond "no crash, no sanitizer report" it checks:
//   - an error is a fatal Status whose message starts with "SCHEMA: " (the setting it names);
//   - an accepted schema has at least one column, no empty or case-insensitively duplicate
//     name, an Arrow schema with the same names and nullability, and index_of finds each column;
//   - the canonical DDL of an accepted schema (to_ddl) parses back to the same tree, at every
//     depth (names, types, decimal parameters, nullability, comments), and so does its Spark
//     StructType JSON (schema_json → parse_schema_json): a SCHEMA_FILE written from it is the
//     same schema, and the Delta table's schema string describes exactly what was parsed;
//   - PARTITION_FROM resolves only to a TIMESTAMP or DATE column.
// Built and run by tests/fuzz/run (make fuzz).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <arrow/type.h>

#include "decode/schema.h"
#include "decode/schema_json.h"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "schema_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool same_tree(const kpipe::ColumnSpec& a, const kpipe::ColumnSpec& b) {
  if (a.name != b.name || a.type != b.type || a.nullable != b.nullable || a.precision != b.precision ||
      a.scale != b.scale || a.comment != b.comment || a.children.size() != b.children.size()) {
    return false;
  }
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (!same_tree(a.children[i], b.children[i])) return false;
  }
  return true;
}

void expect_same(const kpipe::Schema& a, const kpipe::Schema& b, const char* what, const std::string& text) {
  if (a.columns.size() != b.columns.size()) fail(what, text);
  for (size_t i = 0; i < a.columns.size(); ++i) {
    if (!same_tree(a.columns[i], b.columns[i])) fail(what, text);
  }
  if (!a.arrow_schema->Equals(*b.arrow_schema)) fail(what, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  kpipe::Result<kpipe::Schema> schema = kpipe::parse_ddl(input);
  if (!schema.ok()) {
    if (schema.status().kind() != kpipe::ErrorKind::kFatal) fail("DDL error is not fatal");
    if (schema.status().message().rfind("SCHEMA: ", 0) != 0)
      fail("DDL error without SCHEMA prefix:", schema.status().message());
    return 0;
  }
  const auto& columns = schema->columns;
  if (columns.empty()) fail("empty schema accepted");
  if (!schema->arrow_schema || static_cast<size_t>(schema->arrow_schema->num_fields()) != columns.size()) {
    fail("arrow schema size differs");
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name.empty()) fail("empty column name accepted");
    const auto& field = schema->arrow_schema->field(static_cast<int>(i));
    if (field->name() != columns[i].name) fail("arrow field name differs:", columns[i].name);
    if (field->nullable() != columns[i].nullable) fail("arrow nullability differs:", columns[i].name);
    if (schema->index_of(columns[i].name) != static_cast<int>(i)) fail("index_of misses a column:", columns[i].name);
    for (size_t j = 0; j < i; ++j) {
      if (same_name(columns[i].name, columns[j].name)) fail("duplicate column accepted:", columns[i].name);
    }
  }
  const std::string again = kpipe::to_ddl(columns);
  kpipe::Result<kpipe::Schema> reparsed = kpipe::parse_ddl(again);
  if (!reparsed.ok()) fail("canonical DDL does not parse:", reparsed.status().message());
  expect_same(*schema, *reparsed, "canonical DDL differs:", again);
  const std::string json = kpipe::schema_json(columns);
  kpipe::Result<kpipe::Schema> from_json = kpipe::parse_schema_json(json, "fuzz");
  if (!from_json.ok()) fail("StructType JSON does not parse:", from_json.status().message());
  expect_same(*schema, *from_json, "StructType JSON differs:", json);
  // PARTITION_FROM: try each column name and one that is not there.
  for (const kpipe::ColumnSpec& c : columns) {
    kpipe::Result<int> index = kpipe::find_partition_column(*schema, c.name);
    const bool time_column = c.type == kpipe::ColumnType::kTimestamp || c.type == kpipe::ColumnType::kDate;
    if (index.ok() != time_column) fail("PARTITION_FROM accepted a non-time column or refused a time column:", c.name);
    if (!index.ok() && index.status().message().rfind("PARTITION_FROM: ", 0) != 0) {
      fail("PARTITION_FROM error without its name:", index.status().message());
    }
  }
  if (kpipe::find_partition_column(*schema, "\x01no such column").ok()) fail("PARTITION_FROM found a missing column");
  return 0;
}
