#include "decode/schema.h"

#include <array>
#include <cstddef>
#include <utility>

#include <arrow/type.h>
#include <simdjson.h>

#include "common/strings.h"

namespace kpipe {
namespace {

constexpr std::string_view kExpectedTypes =
    "STRING, BIGINT, INT, SMALLINT, TINYINT, DOUBLE, FLOAT, DECIMAL(p, s), BOOLEAN, BINARY, TIMESTAMP, "
    "TIMESTAMP_NTZ, DATE, STRUCT<...>, ARRAY<...>, MAP<STRING, ...>";

struct TypeAlias {
  std::string_view name;
  ColumnType type;
};

constexpr std::array<TypeAlias, 20> kTypeAliases = {{
    {"STRING", ColumnType::kString},
    {"BIGINT", ColumnType::kInt64},
    {"LONG", ColumnType::kInt64},
    {"INT", ColumnType::kInt32},
    {"INTEGER", ColumnType::kInt32},
    {"SMALLINT", ColumnType::kInt16},
    {"SHORT", ColumnType::kInt16},
    {"TINYINT", ColumnType::kInt8},
    {"BYTE", ColumnType::kInt8},
    {"DOUBLE", ColumnType::kDouble},
    {"FLOAT", ColumnType::kFloat},
    {"REAL", ColumnType::kFloat},
    {"BOOLEAN", ColumnType::kBoolean},
    {"BINARY", ColumnType::kBinary},
    {"TIMESTAMP", ColumnType::kTimestamp},
    {"TIMESTAMP_LTZ", ColumnType::kTimestamp},
    {"TIMESTAMP_NTZ", ColumnType::kTimestampNtz},
    {"DATE", ColumnType::kDate},
    {"DECIMAL", ColumnType::kDecimal},
    {"DEC", ColumnType::kDecimal},
}};

// Spark types a user may reasonably write that we recognise but do not decode; naming them
// "unsupported" rather than "unknown" tells the user the spelling is fine.
constexpr std::array<std::string_view, 5> kUnsupportedSparkTypes = {"INTERVAL", "VOID", "VARIANT", "OBJECT",
                                                                    "CALENDARINTERVAL"};

bool is_identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

Status schema_error(std::string message) {
  return Status::fatal("SCHEMA: " + std::move(message), StatusCode::kInvalidArgument);
}

// A recursive-descent reader over the DDL text. Positions in messages are 1-based characters,
// which is what a user counting along their .env line expects. Fields are named in messages by
// their path from the top ("user.tags", "items.element.price").
class DdlParser {
 public:
  explicit DdlParser(std::string_view text) : text_(text) {}

  Result<Schema> parse() {
    Schema schema;
    // Names and comments go into Parquet footers and the Delta log's JSON, which are UTF-8.
    if (!simdjson::validate_utf8(text_.data(), text_.size())) return schema_error("the schema is not valid UTF-8");
    skip_space();
    if (at_end()) {
      return schema_error(
          "the schema is empty (expected e.g. 'event_id STRING, ts TIMESTAMP, value DOUBLE, "
          "source STRING')");
    }
    // "STRUCT<a: INT, ...>" as a whole, which Spark's simpleString prints and from_json takes.
    const size_t save = pos_;
    if (match_keyword("STRUCT")) {
      skip_space();
      if (peek() == '<') {
        ++pos_;
        KPIPE_ASSIGN_OR_RETURN(schema.columns, parse_fields("", '>', 0));
        KPIPE_RETURN_IF_ERROR(expect_close('>', "STRUCT", "the schema"));
        skip_space();
        if (!at_end()) {
          return schema_error("expected the end after the schema's STRUCT<...> at position " + position() + ", got '" +
                              std::string(next_word()) + "'");
        }
        if (schema.columns.empty()) return schema_error("the schema STRUCT<> has no fields");
        schema.arrow_schema = arrow_schema(schema.columns);
        return schema;
      }
    }
    pos_ = save;
    KPIPE_ASSIGN_OR_RETURN(schema.columns, parse_fields("", '\0', 0));
    schema.arrow_schema = arrow_schema(schema.columns);
    return schema;
  }

 private:
  // Fields separated by ',' up to `close` ('>' of a STRUCT, or '\0' for the end of the text),
  // which is left for the caller. `parent` is the path of the enclosing struct ("" at the top).
  Result<std::vector<ColumnSpec>> parse_fields(const std::string& parent, char close, int depth) {
    std::vector<ColumnSpec> fields;
    skip_space();
    if (at_close(close)) return fields;  // STRUCT<>, as Spark allows
    while (true) {
      const size_t start = pos_;
      KPIPE_ASSIGN_OR_RETURN(ColumnSpec field, parse_field(parent, close, depth));
      for (const ColumnSpec& existing : fields) {
        if (ascii_iequals(existing.name, field.name)) {
          return schema_error("duplicate " + what(parent) + " '" + path(parent, field.name) + "' at position " +
                              std::to_string(start + 1) + " (names are case-insensitive)");
        }
      }
      fields.push_back(std::move(field));
      skip_space();
      if (at_end() || at_close(close)) {
        if (close != '\0' && at_end()) {
          return schema_error("expected '>' to close the STRUCT of " +
                              (parent.empty() ? "the schema" : "'" + parent + "'") + ", got the end of the schema");
        }
        return fields;
      }
      if (peek() != ',') {
        return schema_error("expected ',' or " + std::string(close == '\0' ? "the end" : "'>'") + " after " +
                            what(parent) + " '" + path(parent, fields.back().name) + "' at position " + position() +
                            ", got '" + std::string(next_word()) + "'");
      }
      ++pos_;
      skip_space();
      if (at_end() || at_close(close)) {
        return schema_error("expected a " + what(parent) + " definition after the last ',' at position " + position() +
                            " (trailing comma)");
      }
    }
  }

  static std::string what(const std::string& parent) { return parent.empty() ? "column" : "field"; }
  static std::string path(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "." + name;
  }

  Result<ColumnSpec> parse_field(const std::string& parent, char close, int depth) {
    ColumnSpec field;
    KPIPE_ASSIGN_OR_RETURN(field.name, parse_name(parent));
    const std::string name = path(parent, field.name);
    skip_space();
    if (peek() == ':') {  // STRUCT<a: INT> (optional, as in Spark)
      ++pos_;
      skip_space();
    }
    if (at_end() || peek() == ',' || at_close(close)) {
      return schema_error(what(parent) + " '" + name + "' has no type");
    }
    KPIPE_RETURN_IF_ERROR(parse_type(field, name, depth));
    skip_space();
    if (match_keyword("NOT")) {
      skip_space();
      if (!match_keyword("NULL")) {
        return schema_error("expected NULL after NOT for " + what(parent) + " '" + name + "' at position " +
                            position());
      }
      field.nullable = false;
      skip_space();
    }
    if (match_keyword("COMMENT")) {
      skip_space();
      KPIPE_ASSIGN_OR_RETURN(field.comment, parse_quoted(what(parent) + " '" + name + "'"));
    }
    return field;
  }

  Result<std::string> parse_name(const std::string& parent) {
    if (peek() == '`') {
      const size_t start = pos_++;
      std::string name;
      while (true) {
        if (at_end()) {
          return schema_error("unterminated backquoted " + what(parent) + " name starting at position " +
                              std::to_string(start + 1));
        }
        const char c = text_[pos_++];
        if (c != '`') {
          name.push_back(c);
        } else if (peek() == '`') {
          name.push_back('`');  // `` inside backquotes is a literal backquote, as in Spark
          ++pos_;
        } else {
          break;
        }
      }
      if (name.empty()) return schema_error("empty " + what(parent) + " name at position " + std::to_string(start + 1));
      return name;
    }
    const size_t start = pos_;
    while (!at_end() && is_identifier_char(text_[pos_])) ++pos_;
    if (pos_ == start) {
      return schema_error("expected a " + what(parent) + " name" + (parent.empty() ? "" : " in '" + parent + "'") +
                          " at position " + position() + ", got '" + std::string(next_word()) +
                          "' (quote unusual names with backquotes: `my col`)");
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  // One type at the cursor, into `field` (its name is `name`, for messages).
  Status parse_type(ColumnSpec& field, const std::string& name, int depth) {
    const std::string label = (depth == 0 ? "column '" : "field '") + name + "'";
    const size_t start = pos_;
    while (!at_end() && is_identifier_char(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (word.empty()) {
      return schema_error("expected a type for " + label + " at position " + std::to_string(start + 1) + ", got '" +
                          std::string(next_word()) + "'");
    }
    if (depth >= kMaxSchemaDepth &&
        (ascii_iequals(word, "STRUCT") || ascii_iequals(word, "ARRAY") || ascii_iequals(word, "MAP"))) {
      return schema_error(label + " at position " + std::to_string(start + 1) + " nests deeper than " +
                          std::to_string(kMaxSchemaDepth) + " levels");
    }
    if (ascii_iequals(word, "STRUCT")) {
      field.type = ColumnType::kStruct;
      KPIPE_RETURN_IF_ERROR(expect_open('<', "STRUCT", label));
      KPIPE_ASSIGN_OR_RETURN(field.children, parse_fields(name, '>', depth + 1));
      return expect_close('>', "STRUCT", label);
    }
    if (ascii_iequals(word, "ARRAY")) {
      field.type = ColumnType::kArray;
      KPIPE_RETURN_IF_ERROR(expect_open('<', "ARRAY", label));
      ColumnSpec element;
      element.name = "element";
      skip_space();
      KPIPE_RETURN_IF_ERROR(parse_type(element, name + ".element", depth + 1));
      field.children.push_back(std::move(element));
      return expect_close('>', "ARRAY", label);
    }
    if (ascii_iequals(word, "MAP")) {
      field.type = ColumnType::kMap;
      KPIPE_RETURN_IF_ERROR(expect_open('<', "MAP", label));
      ColumnSpec key;
      key.name = "key";
      key.nullable = false;
      skip_space();
      const size_t key_at = pos_;
      KPIPE_RETURN_IF_ERROR(parse_type(key, name + ".key", depth + 1));
      if (key.type != ColumnType::kString) {
        return schema_error("the MAP " + label + " has keys of type " + type_ddl(key) + " at position " +
                            std::to_string(key_at + 1) + "; JSON object keys are strings: use MAP<STRING, ...>");
      }
      skip_space();
      if (peek() != ',') {
        return schema_error("expected ',' between the key and value types of the MAP " + label + " at position " +
                            position() + ", got '" + std::string(next_word()) + "'");
      }
      ++pos_;
      skip_space();
      ColumnSpec value;
      value.name = "value";
      KPIPE_RETURN_IF_ERROR(parse_type(value, name + ".value", depth + 1));
      field.children.push_back(std::move(key));
      field.children.push_back(std::move(value));
      return expect_close('>', "MAP", label);
    }
    if (ascii_iequals(word, "VARCHAR") || ascii_iequals(word, "CHAR") || ascii_iequals(word, "CHARACTER")) {
      // Spark reads CHAR(n)/VARCHAR(n) as STRING in from_json.
      field.type = ColumnType::kString;
      KPIPE_ASSIGN_OR_RETURN(auto length, parse_parameters(word, label, 1, 1));
      if (length.empty() || length[0] < 1) {
        return schema_error(std::string(word) + " of " + label + " at position " + std::to_string(start + 1) +
                            " needs a length >= 1, e.g. VARCHAR(64)");
      }
      return Status::success();
    }
    for (const TypeAlias& alias : kTypeAliases) {
      if (!ascii_iequals(alias.name, word)) continue;
      field.type = alias.type;
      if (alias.type == ColumnType::kDecimal) return parse_decimal(field, label, start);
      return Status::success();
    }
    if (ascii_iequals(word, "NUMERIC")) {
      field.type = ColumnType::kDecimal;
      return parse_decimal(field, label, start);
    }
    for (std::string_view unsupported : kUnsupportedSparkTypes) {
      if (ascii_iequals(unsupported, word)) {
        return schema_error("unsupported type '" + std::string(word) + "' for " + label + " at position " +
                            std::to_string(start + 1) + " (expected " + std::string(kExpectedTypes) + ")");
      }
    }
    return schema_error("unknown type '" + std::string(word) + "' for " + label + " at position " +
                        std::to_string(start + 1) + " (expected " + std::string(kExpectedTypes) + ")");
  }

  // DECIMAL, DECIMAL(p) or DECIMAL(p, s); Spark's default is (10, 0).
  Status parse_decimal(ColumnSpec& field, const std::string& label, size_t start) {
    KPIPE_ASSIGN_OR_RETURN(auto params, parse_parameters("DECIMAL", label, 0, 2));
    field.precision = params.empty() ? 10 : params[0];
    field.scale = params.size() == 2 ? params[1] : 0;
    if (field.precision < 1 || field.precision > kMaxDecimalPrecision || field.scale < 0 ||
        field.scale > field.precision) {
      return schema_error("DECIMAL(" + std::to_string(field.precision) + ", " + std::to_string(field.scale) + ") of " +
                          label + " at position " + std::to_string(start + 1) +
                          ": the precision must be 1 to 38 and the scale 0 to the precision");
    }
    return Status::success();
  }

  // An optional "(n, ...)" of `min`..`max` non-negative integers after a type name.
  Result<std::vector<int>> parse_parameters(std::string_view type, const std::string& label, size_t min, size_t max) {
    std::vector<int> out;
    const size_t save = pos_;
    skip_space();
    if (peek() != '(') {
      pos_ = save;
      if (min > 0) {
        return schema_error(std::string(type) + " of " + label + " needs " + std::to_string(min) +
                            " parameter(s) in parentheses at position " + position());
      }
      return out;
    }
    const size_t open = pos_++;
    while (true) {
      skip_space();
      const size_t at = pos_;
      int64_t value = 0;
      while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9' && value < 1000000) {
        value = value * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == at || out.size() == max) {
        return schema_error("bad parameters of " + std::string(type) + " for " + label + " at position " +
                            std::to_string(open + 1) + " (expected e.g. " + std::string(type) +
                            (max == 2 ? "(10, 2)" : "(64)") + ")");
      }
      out.push_back(static_cast<int>(value));
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ')') {
        ++pos_;
        break;
      }
      return schema_error("expected ',' or ')' in the parameters of " + std::string(type) + " for " + label +
                          " at position " + position() + ", got '" + std::string(next_word()) + "'");
    }
    if (out.size() < min) {
      return schema_error(std::string(type) + " of " + label + " needs " + std::to_string(min) + " parameter(s)");
    }
    return out;
  }

  Status expect_open(char open, std::string_view type, const std::string& label) {
    skip_space();
    if (peek() != open) {
      return schema_error(std::string(type) + " of " + label + " needs its type" + (type == "STRUCT" ? "s" : "") +
                          " in <...> at position " + position() + " (e.g. " +
                          (type == "STRUCT"  ? "STRUCT<id: INT, name: STRING>"
                           : type == "ARRAY" ? "ARRAY<STRING>"
                                             : "MAP<STRING, INT>") +
                          ")");
    }
    ++pos_;
    return Status::success();
  }

  Status expect_close(char close, std::string_view type, const std::string& label) {
    skip_space();
    if (peek() != close) {
      return schema_error("expected '" + std::string(1, close) + "' to close the " + std::string(type) + " of " +
                          label + " at position " + position() + ", got " +
                          (at_end() ? std::string("the end of the schema") : "'" + std::string(next_word()) + "'"));
    }
    ++pos_;
    return Status::success();
  }

  Result<std::string> parse_quoted(const std::string& owner) {
    if (at_end() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return schema_error("expected a quoted comment after COMMENT for " + owner + " at position " + position());
    }
    const size_t start = pos_;
    const char quote = text_[pos_++];
    std::string out;
    while (!at_end()) {
      const char c = text_[pos_++];
      if (c == '\\') {
        if (!at_end()) out.push_back(text_[pos_++]);
      } else if (c == quote) {
        return out;
      } else {
        out.push_back(c);
      }
    }
    return schema_error("unterminated comment for " + owner + " starting at position " + std::to_string(start + 1));
  }

  // Consumes `keyword` (case-insensitive) only as a whole word.
  bool match_keyword(std::string_view keyword) {
    if (text_.size() - pos_ < keyword.size()) return false;
    if (!ascii_iequals(text_.substr(pos_, keyword.size()), keyword)) return false;
    const size_t after = pos_ + keyword.size();
    if (after < text_.size() && is_identifier_char(text_[after])) return false;
    pos_ = after;
    return true;
  }

  // The text from the cursor to the next separator, for quoting in messages.
  std::string_view next_word() const {
    size_t end = pos_;
    while (end < text_.size() && !is_space(text_[end]) && text_[end] != ',' && text_[end] != '>' && text_[end] != '<') {
      ++end;
    }
    if (end == pos_ && end < text_.size()) ++end;  // a lone ',' or similar
    return text_.substr(pos_, std::min<size_t>(end - pos_, 40));
  }

  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  // At `close` ('>'), or at the end of the text when close is '\0' (a NUL byte is not an end).
  bool at_close(char close) const { return close == '\0' ? at_end() : peek() == close; }
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
    if (ascii_iequals(columns[i].name, name)) return static_cast<int>(i);
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
