// libFuzzer target for the SCHEMA setting: parse_ddl (a Spark DDL string, user input) and
// find_partition_column (PARTITION_FROM). Beyond "no crash, no sanitizer report" it checks:
//   - an error is a fatal Status whose message starts with "SCHEMA: " (the setting it names);
//   - an accepted schema has at least one column, no empty or case-insensitively duplicate
//     name, an Arrow schema with the same names and nullability, and index_of finds each column;
//   - the canonical DDL of an accepted schema (names backquoted, canonical type names) parses
//     back to the same columns: what the status page shows as the schema is a valid SCHEMA;
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

std::string canonical_ddl(const kpipe::Schema& schema) {
  std::string out;
  for (const kpipe::ColumnSpec& c : schema.columns) {
    if (!out.empty()) out += ", ";
    out += '`';
    for (char ch : c.name) {
      out += ch;
      if (ch == '`') out += '`';
    }
    out += "` ";
    out += kpipe::column_type_name(c.type);
    if (!c.nullable) out += " NOT NULL";
  }
  return out;
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
  const std::string again = canonical_ddl(*schema);
  kpipe::Result<kpipe::Schema> reparsed = kpipe::parse_ddl(again);
  if (!reparsed.ok()) fail("canonical DDL does not parse:", reparsed.status().message());
  if (reparsed->columns.size() != columns.size()) fail("canonical DDL has another column count:", again);
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto& a = columns[i];
    const auto& b = reparsed->columns[i];
    if (a.name != b.name || a.type != b.type || a.nullable != b.nullable) fail("canonical DDL differs:", again);
  }
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
