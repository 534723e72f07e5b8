#include "decode/schema_json.h"

#include <array>
#include <cstdio>

#include <simdjson.h>

#include "common/json_writer.h"
#include "common/strings.h"

namespace kpipe {
namespace {

namespace dom = simdjson::dom;

struct PrimitiveName {
  std::string_view name;
  ColumnType type;
};

// Spark's DataType.typeName of each primitive kpipe decodes.
constexpr std::array<PrimitiveName, 13> kPrimitives = {{
    {"string", ColumnType::kString},
    {"long", ColumnType::kInt64},
    {"integer", ColumnType::kInt32},
    {"short", ColumnType::kInt16},
    {"byte", ColumnType::kInt8},
    {"double", ColumnType::kDouble},
    {"float", ColumnType::kFloat},
    {"boolean", ColumnType::kBoolean},
    {"binary", ColumnType::kBinary},
    {"date", ColumnType::kDate},
    {"timestamp", ColumnType::kTimestamp},
    {"timestamp_ntz", ColumnType::kTimestampNtz},
    {"decimal", ColumnType::kDecimal},
}};

std::string_view primitive_name(ColumnType type) {
  for (const auto& p : kPrimitives) {
    if (p.type == type) return p.name;
  }
  return "string";
}

class JsonSchemaReader {
 public:
  explicit JsonSchemaReader(std::string_view what) : what_(what) {}

  Result<Schema> read(std::string_view json) {
    dom::parser parser;
    dom::element doc;
    if (auto error = parser.parse(simdjson::padded_string(json)).get(doc)) {
      return bad("", std::string("is not JSON (") + simdjson::error_message(error) +
                         "); expected Spark's StructType JSON, as df.schema.json() prints it");
    }
    Schema schema;
    KPIPE_ASSIGN_OR_RETURN(schema.columns, read_struct(doc, "", 0));
    if (schema.columns.empty()) return bad("", "has no fields");
    schema.arrow_schema = arrow_schema(schema.columns);
    return schema;
  }

 private:
  Status bad(const std::string& path, const std::string& why) const {
    return Status::fatal(std::string(what_) + ": " + (path.empty() ? "the schema " : "field '" + path + "' ") + why,
                         StatusCode::kInvalidArgument);
  }

  static std::string join(const std::string& parent, std::string_view name) {
    return parent.empty() ? std::string(name) : parent + "." + std::string(name);
  }

  // {"type":"struct","fields":[...]} → its fields.
  Result<std::vector<ColumnSpec>> read_struct(dom::element e, const std::string& path, int depth) {
    std::string_view type;
    dom::array fields;
    if (e["type"].get_string().get(type) || type != "struct" || e["fields"].get_array().get(fields)) {
      return bad(path, "is not a struct: expected {\"type\":\"struct\",\"fields\":[...]}");
    }
    std::vector<ColumnSpec> out;
    for (dom::element f : fields) {
      ColumnSpec c;
      std::string_view name;
      if (f["name"].get_string().get(name)) {
        return bad(path, "has a field without a \"name\" (field " + std::to_string(out.size() + 1) + ")");
      }
      c.name = std::string(name);
      const std::string here = join(path, name);
      if (c.name.empty()) return bad(path, "has a field with an empty name");
      for (const auto& existing : out) {
        if (ascii_lower(existing.name) == ascii_lower(c.name)) {
          return bad(here, "appears twice (names are case-insensitive)");
        }
      }
      dom::element t;
      if (f["type"].get(t)) return bad(here, "has no \"type\"");
      KPIPE_RETURN_IF_ERROR(read_type(t, c, here, depth));
      bool nullable = true;
      if (auto error = f["nullable"].get_bool().get(nullable); error && error != simdjson::NO_SUCH_FIELD) {
        return bad(here, "has a \"nullable\" that is not true or false");
      }
      c.nullable = nullable;
      std::string_view comment;
      if (!f["metadata"]["comment"].get_string().get(comment)) c.comment = std::string(comment);
      out.push_back(std::move(c));
    }
    return out;
  }

  Status read_type(dom::element t, ColumnSpec& c, const std::string& path, int depth) {
    std::string_view name;
    if (!t.get_string().get(name)) return read_primitive(name, c, path);
    std::string_view kind;
    if (t["type"].get_string().get(kind)) return bad(path, "has a type that is neither a name nor a {\"type\": ...}");
    if (depth >= kMaxSchemaDepth) {
      return bad(path, "nests deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    }
    if (kind == "struct") {
      c.type = ColumnType::kStruct;
      KPIPE_ASSIGN_OR_RETURN(c.children, read_struct(t, path, depth + 1));
      return Status::success();
    }
    if (kind == "array") {
      c.type = ColumnType::kArray;
      ColumnSpec element;
      element.name = "element";
      dom::element et;
      if (t["elementType"].get(et)) return bad(path, "is an array without \"elementType\"");
      KPIPE_RETURN_IF_ERROR(read_type(et, element, path + ".element", depth + 1));
      // containsNull is read as true: the DDL cannot say otherwise, and from_json makes every
      // element nullable anyway.
      c.children.push_back(std::move(element));
      return Status::success();
    }
    if (kind == "map") {
      c.type = ColumnType::kMap;
      ColumnSpec key, value;
      key.name = "key";
      key.nullable = false;
      value.name = "value";
      dom::element kt, vt;
      if (t["keyType"].get(kt) || t["valueType"].get(vt)) {
        return bad(path, "is a map without \"keyType\" and \"valueType\"");
      }
      KPIPE_RETURN_IF_ERROR(read_type(kt, key, path + ".key", depth + 1));
      if (key.type != ColumnType::kString) {
        return bad(path, "is a map with keys of type " + type_ddl(key) +
                             "; JSON object keys are strings: use \"keyType\":\"string\"");
      }
      KPIPE_RETURN_IF_ERROR(read_type(vt, value, path + ".value", depth + 1));
      // valueContainsNull is read as true, as containsNull above.
      c.children.push_back(std::move(key));
      c.children.push_back(std::move(value));
      return Status::success();
    }
    return bad(path, "has the unknown type kind '" + std::string(kind) + "' (expected struct, array or map)");
  }

  Status read_primitive(std::string_view name, ColumnSpec& c, const std::string& path) {
    const std::string lower = ascii_lower(name);
    if (lower.rfind("decimal", 0) == 0) {
      c.type = ColumnType::kDecimal;
      c.precision = 10;
      c.scale = 0;
      // "decimal(10,2)" as Delta and Spark's JSON write it; "decimal(10, 2)" tolerated.
      std::string rest;
      for (char ch : std::string_view(lower).substr(7)) {
        if (ch != ' ') rest.push_back(ch);
      }
      if (!rest.empty()) {
        int p = -1, s = -1, used = 0;
        if (std::sscanf(rest.c_str(), "(%3d,%3d)%n", &p, &s, &used) != 2 || static_cast<size_t>(used) != rest.size()) {
          return bad(path, "has the type '" + std::string(name) + "'; expected decimal(p,s)");
        }
        c.precision = p;
        c.scale = s;
      }
      if (c.precision < 1 || c.precision > kMaxDecimalPrecision || c.scale < 0 || c.scale > c.precision) {
        return bad(path, "has the type '" + std::string(name) +
                             "': the precision must be 1 to 38 and the scale 0 to the precision");
      }
      return Status::success();
    }
    for (const auto& p : kPrimitives) {
      if (p.name == lower && p.type != ColumnType::kDecimal) {
        c.type = p.type;
        return Status::success();
      }
    }
    if (lower.rfind("varchar(", 0) == 0 || lower.rfind("char(", 0) == 0) {
      c.type = ColumnType::kString;
      return Status::success();
    }
    return bad(path, "has the unknown or unsupported type '" + std::string(name) +
                         "' (expected string, long, integer, short, byte, double, float, boolean, binary, date, "
                         "timestamp, timestamp_ntz, decimal(p,s), or a struct, array or map)");
  }

  std::string_view what_;
};

void write_type(JsonWriter& w, const ColumnSpec& c);

void write_field(JsonWriter& w, const ColumnSpec& c) {
  w.begin_object().field("name", c.name).key("type");
  write_type(w, c);
  w.field("nullable", c.nullable).key("metadata").begin_object();
  if (!c.comment.empty()) w.field("comment", c.comment);
  w.end_object().end_object();
}

void write_type(JsonWriter& w, const ColumnSpec& c) {
  switch (c.type) {
    case ColumnType::kDecimal:
      w.value("decimal(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")");
      return;
    case ColumnType::kStruct:
      w.begin_object().field("type", "struct").key("fields").begin_array();
      for (const auto& f : c.children) write_field(w, f);
      w.end_array().end_object();
      return;
    case ColumnType::kArray:
      w.begin_object().field("type", "array").key("elementType");
      write_type(w, c.children.at(0));
      w.field("containsNull", c.children.at(0).nullable).end_object();
      return;
    case ColumnType::kMap:
      w.begin_object().field("type", "map").key("keyType");
      write_type(w, c.children.at(0));
      w.key("valueType");
      write_type(w, c.children.at(1));
      w.field("valueContainsNull", c.children.at(1).nullable).end_object();
      return;
    default: w.value(primitive_name(c.type)); return;
  }
}

}  // namespace

Result<Schema> parse_schema_json(std::string_view json, std::string_view what) {
  return JsonSchemaReader(what).read(json);
}

std::string field_json(const ColumnSpec& column) {
  JsonWriter w;
  write_field(w, column);
  return w.take();
}

std::string type_json(const ColumnSpec& column) {
  JsonWriter w;
  write_type(w, column);
  return w.take();
}

std::string schema_json(const std::vector<ColumnSpec>& columns) {
  JsonWriter w;
  w.begin_object().field("type", "struct").key("fields").begin_array();
  for (const auto& c : columns) write_field(w, c);
  w.end_array().end_object();
  return w.take();
}

}  // namespace kpipe
