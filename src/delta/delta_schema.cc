#include "delta/delta_schema.h"

#include <simdjson.h>

#include "common/json_writer.h"
#include "common/strings.h"
#include "decode/schema_json.h"

namespace kpipe {
namespace {

const DeltaField* find_field(const std::vector<DeltaField>& fields, std::string_view name) {
  const std::string lower = ascii_lower(name);
  for (const auto& f : fields) {
    if (ascii_lower(f.name) == lower) return &f;
  }
  return nullptr;
}

std::string describe(const std::vector<DeltaField>& fields) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += ", ";
    std::string type = f.type;
    if (type.size() >= 2 && type.front() == '"') type = type.substr(1, type.size() - 2);
    out += f.name + " " + type + (f.nullable ? "" : " NOT NULL");
  }
  return out;
}

}  // namespace

bool needs_timestamp_ntz(const std::vector<ColumnSpec>& columns) {
  for (const auto& c : columns) {
    if (c.type == ColumnType::kTimestampNtz || needs_timestamp_ntz(c.children)) return true;
  }
  return false;
}

Result<std::string> delta_schema_string(const Schema& schema) {
  std::string out = R"({"type":"struct","fields":[)";
  for (const auto& c : schema.columns) {
    if (ascii_lower(c.name) == kDeltaPartitionColumn) {
      return Status::fatal("SCHEMA: column '" + c.name +
                               "' has the name of the Delta table's partition column dt (the folder dt=YYYY-MM-DD); "
                               "rename it, or set PARQUET_TABLE_FORMAT=none",
                           StatusCode::kInvalidArgument);
    }
    out += kpipe::field_json(c);
    out += ',';
  }
  ColumnSpec dt;
  dt.name = std::string(kDeltaPartitionColumn);
  dt.type = ColumnType::kDate;
  out += kpipe::field_json(dt);
  out += "]}";
  return out;
}

Result<std::vector<DeltaField>> parse_delta_schema(std::string_view schema_string, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return Status::fatal(std::string(what) + ": the table schema (metaData.schemaString) " + why,
                         StatusCode::kDataLoss);
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(schema_string)).get(doc) != simdjson::SUCCESS) return bad("is not JSON");
  std::string_view type;
  simdjson::dom::array fields;
  if (doc["type"].get_string().get(type) != simdjson::SUCCESS || type != "struct" ||
      doc["fields"].get_array().get(fields) != simdjson::SUCCESS) {
    return bad("is not a struct with fields");
  }
  std::vector<DeltaField> out;
  for (simdjson::dom::element f : fields) {
    DeltaField d;
    std::string_view name;
    simdjson::dom::element t;
    if (f["name"].get_string().get(name) != simdjson::SUCCESS || f["type"].get(t) != simdjson::SUCCESS) {
      return bad("has a field without name or type");
    }
    d.name = std::string(name);
    d.type = simdjson::minify(t);
    bool nullable = true;
    if (f["nullable"].get_bool().get(nullable) == simdjson::SUCCESS) d.nullable = nullable;
    d.json = simdjson::minify(f);
    out.push_back(std::move(d));
  }
  return out;
}

SchemaChange compare_schemas(const std::vector<DeltaField>& table, const std::vector<DeltaField>& ours) {
  SchemaChange c;
  auto incompatible = [&](const std::string& why) {
    c.compatible = false;
    c.reason = why + " (table: " + describe(table) + "; SCHEMA: " + describe(ours) + ")";
    return c;
  };
  for (const auto& t : table) {
    const DeltaField* o = find_field(ours, t.name);
    if (!o) return incompatible("the table's column " + t.name + " is not in the new schema");
    if (o->type != t.type) {
      return incompatible("column " + t.name + " is " + t.type + " in the table and " + o->type + " in the new schema");
    }
    if (!t.nullable && o->nullable) {
      return incompatible("column " + t.name + " is NOT NULL in the table but nullable in the new schema");
    }
  }
  std::string merged = R"({"type":"struct","fields":[)";
  for (const auto& t : table) merged += t.json + ",";
  for (const auto& o : ours) {
    if (find_field(table, o.name)) continue;
    if (!o.nullable) return incompatible("the new column " + o.name + " is NOT NULL, and the table's rows have none");
    c.added.push_back(o.name);
    merged += o.json + ",";
  }
  if (merged.back() == ',') merged.pop_back();
  merged += "]}";
  c.merged_schema_string = std::move(merged);
  return c;
}

}  // namespace kpipe
