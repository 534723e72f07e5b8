#include "decode/schema.h"

#include <array>
#include <cstddef>
#include <utility>

#include <arrow/type.h>

namespace kpipe {
namespace {

constexpr std::string_view kExpectedTypes =
    "STRING, BIGINT, LONG, INT, INTEGER, DOUBLE, FLOAT, REAL, BOOLEAN, TIMESTAMP, DATE";

struct TypeAlias {
  std::string_view name;
  ColumnType type;
};

constexpr std::array<TypeAlias, 11> kTypeAliases = {{
    {"STRING", ColumnType::kString},
    {"BIGINT", ColumnType::kInt64},
    {"LONG", ColumnType::kInt64},
    {"INT", ColumnType::kInt32},
    {"INTEGER", ColumnType::kInt32},
    {"DOUBLE", ColumnType::kDouble},
    {"FLOAT", ColumnType::kFloat},
    {"REAL", ColumnType::kFloat},
    {"BOOLEAN", ColumnType::kBoolean},
    {"TIMESTAMP", ColumnType::kTimestamp},
    {"DATE", ColumnType::kDate},
}};

// Spark types a user may reasonably write that we recognise but do not decode; naming them
// "unsupported" rather than "unknown" tells the user the spelling is fine.
constexpr std::array<std::string_view, 14> kUnsupportedSparkTypes = {
    "TINYINT", "BYTE",  "SMALLINT", "SHORT",  "DECIMAL", "DEC",           "NUMERIC",
    "BINARY",  "ARRAY", "MAP",      "STRUCT", "VARCHAR", "TIMESTAMP_NTZ", "INTERVAL",
};

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  }
  return true;
}

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

Status schema_error(std::string message) { return Status::fatal("SCHEMA: " + std::move(message)); }

// A recursive-descent reader over the DDL text. Positions in messages are 1-based characters,
// which is what a user counting along their .env line expects.
class DdlParser {
 public:
  explicit DdlParser(std::string_view text) : text_(text) {}

  Result<Schema> parse() {
    Schema schema;
    skip_space();
    if (at_end()) {
      return schema_error(
          "the schema is empty (expected e.g. 'event_id STRING, ts TIMESTAMP, value DOUBLE, "
          "source STRING')");
    }
    while (true) {
      KPIPE_ASSIGN_OR_RETURN(ColumnSpec column, parse_column());
      for (const ColumnSpec& existing : schema.columns) {
        if (iequals(existing.name, column.name)) {
          return schema_error("duplicate column '" + column.name + "' (column names are case-insensitive)");
        }
      }
      schema.columns.push_back(std::move(column));
      skip_space();
      if (at_end()) break;
      if (text_[pos_] != ',') {
        return schema_error("expected ',' or the end after column '" + schema.columns.back().name + "' at position " +
                            position() + ", got '" + std::string(next_word()) + "'");
      }
      ++pos_;
      skip_space();
      if (at_end()) {
        return schema_error("expected a column definition after the last ',' (trailing comma)");
      }
    }

    schema.arrow_schema = arrow_schema(schema.columns);
    return schema;
  }

 private:
  Result<ColumnSpec> parse_column() {
    KPIPE_ASSIGN_OR_RETURN(std::string name, parse_name());
    skip_space();
    const size_t type_start = pos_;
    const std::string_view type_text = read_type();
    if (type_text.empty()) {
      if (at_end() || text_[pos_] == ',') return schema_error("column '" + name + "' has no type");
      return schema_error("expected a type for column '" + name + "' at position " + std::to_string(type_start + 1) +
                          ", got '" + std::string(next_word()) + "'");
    }
    ColumnSpec column;
    column.name = std::move(name);
    KPIPE_ASSIGN_OR_RETURN(column.type, resolve_type(type_text, column.name));

    skip_space();
    if (match_keyword("NOT")) {
      skip_space();
      if (!match_keyword("NULL")) {
        return schema_error("expected NULL after NOT for column '" + column.name + "' at position " + position());
      }
      column.nullable = false;
      skip_space();
    }
    if (match_keyword("COMMENT")) {
      skip_space();
      KPIPE_RETURN_IF_ERROR(skip_quoted(column.name));
    }
    return column;
  }

  Result<std::string> parse_name() {
    if (text_[pos_] == '`') {
      const size_t start = pos_++;
      std::string name;
      while (true) {
        if (at_end()) {
          return schema_error("unterminated backquoted column name starting at position " + std::to_string(start + 1));
        }
        const char c = text_[pos_++];
        if (c != '`') {
          name.push_back(c);
        } else if (!at_end() && text_[pos_] == '`') {
          name.push_back('`');  // `` inside backquotes is a literal backquote, as in Spark
          ++pos_;
        } else {
          break;
        }
      }
      if (name.empty()) {
        return schema_error("empty column name at position " + std::to_string(start + 1));
      }
      return name;
    }
    const size_t start = pos_;
    while (!at_end() && is_identifier_char(text_[pos_])) ++pos_;
    if (pos_ == start) {
      return schema_error("expected a column name at position " + position() + ", got '" + std::string(next_word()) +
                          "' (quote unusual names with backquotes: `my col`)");
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  // An identifier plus any balanced (...) or <...> group, so "DECIMAL(10, 2)" and
  // "ARRAY<STRING>" are reported whole instead of being split at their inner comma.
  std::string_view read_type() {
    const size_t start = pos_;
    while (!at_end() && is_identifier_char(text_[pos_])) ++pos_;
    if (pos_ == start) return {};
    size_t end = pos_;
    size_t probe = pos_;
    while (probe < text_.size() && is_space(text_[probe])) ++probe;
    if (probe < text_.size() && (text_[probe] == '(' || text_[probe] == '<')) {
      int depth = 0;
      for (; probe < text_.size(); ++probe) {
        const char c = text_[probe];
        if (c == '(' || c == '<') ++depth;
        if (c == ')' || c == '>') --depth;
        if (depth == 0) break;
      }
      end = probe < text_.size() ? probe + 1 : text_.size();
      pos_ = end;
    }
    return text_.substr(start, end - start);
  }

  static Result<ColumnType> resolve_type(std::string_view type_text, const std::string& column) {
    for (const TypeAlias& alias : kTypeAliases) {
      if (iequals(alias.name, type_text)) return alias.type;
    }
    size_t base_len = 0;
    while (base_len < type_text.size() && is_identifier_char(type_text[base_len])) ++base_len;
    const std::string_view base = type_text.substr(0, base_len);
    for (std::string_view unsupported : kUnsupportedSparkTypes) {
      if (iequals(unsupported, base)) {
        return schema_error("unsupported type '" + std::string(type_text) + "' for column '" + column + "' (expected " +
                            std::string(kExpectedTypes) + ")");
      }
    }
    return schema_error("unknown type '" + std::string(type_text) + "' for column '" + column + "' (expected " +
                        std::string(kExpectedTypes) + ")");
  }

  Status skip_quoted(const std::string& column) {
    if (at_end() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return schema_error("expected a quoted comment after COMMENT for column '" + column + "' at position " +
                          position());
    }
    const size_t start = pos_;
    const char quote = text_[pos_++];
    while (!at_end()) {
      const char c = text_[pos_++];
      if (c == '\\') {
        if (!at_end()) ++pos_;
      } else if (c == quote) {
        return Status::success();
      }
    }
    return schema_error("unterminated comment for column '" + column + "' starting at position " +
                        std::to_string(start + 1));
  }

  // Consumes `keyword` (case-insensitive) only as a whole word.
  bool match_keyword(std::string_view keyword) {
    if (text_.size() - pos_ < keyword.size()) return false;
    if (!iequals(text_.substr(pos_, keyword.size()), keyword)) return false;
    const size_t after = pos_ + keyword.size();
    if (after < text_.size() && is_identifier_char(text_[after])) return false;
    pos_ = after;
    return true;
  }

  // The text from the cursor to the next separator, for quoting in messages.
  std::string_view next_word() const {
    size_t end = pos_;
    while (end < text_.size() && !is_space(text_[end]) && text_[end] != ',') ++end;
    if (end == pos_ && end < text_.size()) ++end;  // a lone ',' or similar
    return text_.substr(pos_, std::min<size_t>(end - pos_, 40));
  }

  std::string position() const { return std::to_string(pos_ + 1); }
  bool at_end() const { return pos_ >= text_.size(); }
  void skip_space() {
    while (!at_end() && is_space(text_[pos_])) ++pos_;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

int Schema::index_of(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (iequals(columns[i].name, name)) return static_cast<int>(i);
  }
  return -1;
}

Result<Schema> parse_ddl(std::string_view ddl) { return DdlParser(ddl).parse(); }

std::string_view column_type_name(ColumnType type) {
  switch (type) {
    case ColumnType::kString: return "STRING";
    case ColumnType::kInt64: return "BIGINT";
    case ColumnType::kInt32: return "INT";
    case ColumnType::kDouble: return "DOUBLE";
    case ColumnType::kFloat: return "FLOAT";
    case ColumnType::kBoolean: return "BOOLEAN";
    case ColumnType::kTimestamp: return "TIMESTAMP";
    case ColumnType::kDate: return "DATE";
    case ColumnType::kInt16: return "SMALLINT";
    case ColumnType::kInt8: return "TINYINT";
    case ColumnType::kDecimal: return "DECIMAL";
    case ColumnType::kBinary: return "BINARY";
    case ColumnType::kTimestampNtz: return "TIMESTAMP_NTZ";
    case ColumnType::kStruct: return "STRUCT";
    case ColumnType::kArray: return "ARRAY";
    case ColumnType::kMap: return "MAP";
  }
  return "?";
}

std::shared_ptr<arrow::DataType> arrow_type(const ColumnSpec& column) {
  switch (column.type) {
    case ColumnType::kString: return arrow::utf8();
    case ColumnType::kInt64: return arrow::int64();
    case ColumnType::kInt32: return arrow::int32();
    case ColumnType::kDouble: return arrow::float64();
    case ColumnType::kFloat: return arrow::float32();
    case ColumnType::kBoolean: return arrow::boolean();
    case ColumnType::kTimestamp: return arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
    case ColumnType::kDate: return arrow::date32();
    case ColumnType::kInt16: return arrow::int16();
    case ColumnType::kInt8: return arrow::int8();
    case ColumnType::kDecimal: return arrow::decimal128(column.precision, column.scale);
    case ColumnType::kBinary: return arrow::binary();
    case ColumnType::kTimestampNtz: return arrow::timestamp(arrow::TimeUnit::MICRO);
    case ColumnType::kStruct: {
      arrow::FieldVector fields;
      fields.reserve(column.children.size());
      for (const ColumnSpec& child : column.children) {
        fields.push_back(arrow::field(child.name, arrow_type(child), child.nullable));
      }
      return arrow::struct_(std::move(fields));
    }
    case ColumnType::kArray: {
      const ColumnSpec& element = column.children.at(0);
      return arrow::list(arrow::field("element", arrow_type(element), element.nullable));
    }
    case ColumnType::kMap: {
      const ColumnSpec& value = column.children.at(1);
      return std::make_shared<arrow::MapType>(arrow::field("key", arrow::utf8(), false),
                                              arrow::field("value", arrow_type(value), value.nullable));
    }
  }
  return nullptr;
}

std::shared_ptr<arrow::Schema> arrow_schema(const std::vector<ColumnSpec>& columns) {
  arrow::FieldVector fields;
  fields.reserve(columns.size());
  for (const ColumnSpec& column : columns) {
    fields.push_back(arrow::field(column.name, arrow_type(column), column.nullable));
  }
  return arrow::schema(std::move(fields));
}

namespace {

// A name as DDL needs it: bare when it is a plain identifier, else backquoted.
void append_name(std::string& out, std::string_view name) {
  bool plain = !name.empty();
  for (char c : name) plain = plain && is_identifier_char(c);
  if (plain) {
    out += name;
    return;
  }
  out += '`';
  for (char c : name) {
    if (c == '`') out += '`';
    out += c;
  }
  out += '`';
}

void append_comment(std::string& out, std::string_view comment) {
  if (comment.empty()) return;
  out += " COMMENT '";
  for (char c : comment) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
}

void append_field(std::string& out, const ColumnSpec& c, std::string_view separator) {
  append_name(out, c.name);
  out += separator;
  out += type_ddl(c);
  if (!c.nullable) out += " NOT NULL";
  append_comment(out, c.comment);
}

}  // namespace

std::string type_ddl(const ColumnSpec& column) {
  switch (column.type) {
    case ColumnType::kDecimal:
      return "DECIMAL(" + std::to_string(column.precision) + "," + std::to_string(column.scale) + ")";
    case ColumnType::kStruct: {
      std::string out = "STRUCT<";
      for (size_t i = 0; i < column.children.size(); ++i) {
        if (i > 0) out += ", ";
        append_field(out, column.children[i], ": ");
      }
      return out + ">";
    }
    case ColumnType::kArray: return "ARRAY<" + type_ddl(column.children.at(0)) + ">";
    case ColumnType::kMap: return "MAP<STRING, " + type_ddl(column.children.at(1)) + ">";
    default: return std::string(column_type_name(column.type));
  }
}

std::string to_ddl(const std::vector<ColumnSpec>& columns) {
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ", ";
    append_field(out, columns[i], " ");
  }
  return out;
}

Result<int> find_partition_column(const Schema& schema, std::string_view name) {
  const int index = schema.index_of(name);
  if (index < 0) {
    std::string names;
    for (const ColumnSpec& column : schema.columns) {
      if (!names.empty()) names += ", ";
      names += column.name;
    }
    return Status::fatal("PARTITION_FROM: column '" + std::string(name) + "' is not in SCHEMA (columns: " + names +
                         ")");
  }
  const ColumnSpec& column = schema.columns[static_cast<size_t>(index)];
  if (column.type != ColumnType::kTimestamp && column.type != ColumnType::kDate) {
    return Status::fatal("PARTITION_FROM: column '" + column.name + "' is " +
                         std::string(column_type_name(column.type)) +
                         "; the partition column must be TIMESTAMP or DATE");
  }
  return index;
}

}  // namespace kpipe
