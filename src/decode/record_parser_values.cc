// RecordParser's scalar values: one JSON value of a leaf type into its slot. The objects, arrays
// and maps around them are in record_parser.cc.
#include <cfloat>
#include <cstring>
#include <limits>

#include "decode/base64.h"
#include "decode/decimal.h"
#include "decode/json_text.h"
#include "decode/record_parser.h"
#include "decode/timestamp.h"

namespace kpipe {

namespace od = simdjson::ondemand;
using json_text::quoted;
using json_text::trim_right;

std::string RecordParser::type_text(uint32_t node) const {
  const FieldNode& field = tree_.node(node);
  if (field.type == ColumnType::kDecimal) {
    return "DECIMAL(" + std::to_string(field.precision) + "," + std::to_string(field.scale) + ")";
  }
  return std::string(column_type_name(field.type));
}

bool RecordParser::wrong_type(uint32_t node, int depth, od::json_type got, std::string_view detail) {
  std::string reason =
      field_prefix(depth) + "expected " + type_text(node) + ", got " + std::string(json_text::type_name(got));
  if (!detail.empty()) reason += " " + std::string(detail);
  return fail(std::move(reason));
}

bool RecordParser::malformed_value(int depth, std::string_view token, simdjson::error_code error) {
  return fail("malformed JSON in field '" + path_text(depth) + "': " + quoted(trim_right(token)) + ": " +
              simdjson::error_message(error));
}

bool RecordParser::read_scalar(uint32_t node, od::value& value, od::json_type type, uint32_t slot_index, int depth) {
  Slot& slot = tape_[slot_index];  // scalars allocate nothing: the reference stays valid
  switch (tree_.node(node).type) {
    case ColumnType::kString:
      if (!read_string_column(depth, value, type, slot)) return false;
      break;
    case ColumnType::kInt64:
      if (!read_integer(node, depth, value, type, std::numeric_limits<int64_t>::min(),
                        std::numeric_limits<int64_t>::max(), slot)) {
        return false;
      }
      break;
    case ColumnType::kInt32:
      if (!read_integer(node, depth, value, type, std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max(), slot)) {
        return false;
      }
      break;
    case ColumnType::kInt16:
      if (!read_integer(node, depth, value, type, std::numeric_limits<int16_t>::min(),
                        std::numeric_limits<int16_t>::max(), slot)) {
        return false;
      }
      break;
    case ColumnType::kInt8:
      // Spark wraps 128 to -128 in a TINYINT; out of range is a bad record here.
      if (!read_integer(node, depth, value, type, std::numeric_limits<int8_t>::min(),
                        std::numeric_limits<int8_t>::max(), slot)) {
        return false;
      }
      break;
    case ColumnType::kDouble:
    case ColumnType::kFloat:
      if (!read_floating(node, depth, value, type, slot)) return false;
      break;
    case ColumnType::kBoolean: {
      if (type != od::json_type::boolean) return wrong_type(node, depth, type);
      bool flag = false;
      const std::string_view token = value.raw_json_token();
      if (simdjson::error_code error = value.get_bool().get(flag)) return malformed_value(depth, token, error);
      slot.int_value = flag;
      break;
    }
    case ColumnType::kTimestamp:
      if (!read_timestamp(node, depth, value, type, slot)) return false;
      break;
    case ColumnType::kTimestampNtz:
      if (!read_timestamp_ntz(node, depth, value, type, slot)) return false;
      break;
    case ColumnType::kDate: {
      if (type != od::json_type::string) return wrong_type(node, depth, type);
      std::string_view text;
      if (!read_string(depth, value, text)) return false;
      const std::optional<int32_t> days = parse_date_days(text);
      if (!days) {
        return fail(field_prefix(depth) + quoted(text) + " is not a valid DATE (YYYY-MM-DD, years 0001-9999)");
      }
      slot.int_value = *days;
      break;
    }
    case ColumnType::kDecimal:
      if (!read_decimal(node, depth, value, type, slot)) return false;
      break;
    case ColumnType::kBinary:
      if (!read_binary(node, depth, value, type, slot)) return false;
      break;
    case ColumnType::kStruct:
    case ColumnType::kArray:
    case ColumnType::kMap: return fail(field_prefix(depth) + "internal error: nested type read as a scalar");
  }
  slot.state = SlotState::kValue;
  return true;
}

bool RecordParser::read_string(int depth, od::value& value, std::string_view& text) {
  const std::string_view token = value.raw_json_token();
  if (simdjson::error_code error = value.get_string().get(text)) return malformed_value(depth, token, error);
  return true;
}

// An integer token, or the reason it is not one: malformed, fractional or out of int64 range.
bool RecordParser::read_int64(uint32_t node, int depth, od::value& value, int64_t& number) {
  const std::string_view token = trim_right(value.raw_json_token());
  if (value.get_int64().get(number) == simdjson::SUCCESS) return true;
  double as_double;
  if (simdjson::error_code error = json_text::read_double(value, token, as_double)) {
    return malformed_value(depth, token, error);
  }
  return wrong_type(node, depth, od::json_type::number,
                    std::string(token.substr(0, json_text::kMaxQuotedBytes)) +
                        (json_text::is_integer_token(token) ? " (out of range)" : " (not an integer)"));
}

bool RecordParser::read_integer(uint32_t node, int depth, od::value& value, od::json_type type, int64_t min,
                                int64_t max, Slot& slot) {
  if (type != od::json_type::number) return wrong_type(node, depth, type);
  if (!read_int64(node, depth, value, slot.int_value)) return false;
  if (slot.int_value < min || slot.int_value > max) {
    return wrong_type(node, depth, type, std::to_string(slot.int_value) + " (out of range)");
  }
  return true;
}

bool RecordParser::read_string_column(int depth, od::value& value, od::json_type type, Slot& slot) {
  std::string_view text;
  switch (type) {
    case od::json_type::string:
      if (!read_string(depth, value, text)) return false;
      break;
    case od::json_type::number: {
      // Kept as written (Spark does the same), but only once it is a valid JSON number.
      text = trim_right(value.raw_json_token());
      double ignored;
      if (simdjson::error_code error = json_text::read_double(value, text, ignored)) {
        return malformed_value(depth, text, error);
      }
      break;
    }
    case od::json_type::boolean: {
      text = trim_right(value.raw_json_token());
      bool ignored;
      if (simdjson::error_code error = value.get_bool().get(ignored)) return malformed_value(depth, text, error);
      break;
    }
    default: return fail(field_prefix(depth) + "expected STRING, got " + std::string(json_text::type_name(type)));
  }
  if (text.size() > max_string_bytes_) {
    return fail(field_prefix(depth) + "string is " + std::to_string(text.size()) +
                " bytes, over MAX_STRING_BYTES=" + std::to_string(max_string_bytes_));
  }
  slot.string_value = text;
  return true;
}

bool RecordParser::read_floating(uint32_t node, int depth, od::value& value, od::json_type type, Slot& slot) {
  if (type != od::json_type::number) return wrong_type(node, depth, type);
  const std::string_view token = trim_right(value.raw_json_token());
  if (json_text::read_double(value, token, slot.double_value) != simdjson::SUCCESS) {
    // Numbers that overflow a double (1e400) are refused as well as malformed ones.
    return fail(field_prefix(depth) + quoted(token) + " is not a valid " + type_text(node) +
                " (malformed or out of range)");
  }
  if (tree_.node(node).type == ColumnType::kFloat && (slot.double_value > FLT_MAX || slot.double_value < -FLT_MAX)) {
    return fail(field_prefix(depth) + quoted(token) + " is out of FLOAT range");
  }
  return true;
}

bool RecordParser::read_timestamp(uint32_t node, int depth, od::value& value, od::json_type type, Slot& slot) {
  if (type == od::json_type::string) {
    std::string_view text;
    if (!read_string(depth, value, text)) return false;
    const std::optional<int64_t> micros = parse_timestamp_micros(text);
    if (!micros) {
      return fail(field_prefix(depth) + quoted(text) +
                  " is not a valid TIMESTAMP (ISO-8601 such as 2025-11-06T12:30:00.123Z, "
                  "years 0001-9999)");
    }
    slot.int_value = *micros;
    return true;
  }
  if (type == od::json_type::number) {
    int64_t millis = 0;
    if (!read_int64(node, depth, value, millis)) return false;
    if (millis < kMinTimestampMillis || millis > kMaxTimestampMillis) {
      return fail(field_prefix(depth) + std::to_string(millis) +
                  " is out of TIMESTAMP range (epoch milliseconds for years 0001-9999)");
    }
    slot.int_value = millis * 1000;
    return true;
  }
  return wrong_type(node, depth, type);
}

// A wall-clock time without zone, as Spark's from_json reads TIMESTAMP_NTZ: text only (Spark gives
// null for numbers), and a zone designator is refused rather than silently dropped or applied.
bool RecordParser::read_timestamp_ntz(uint32_t node, int depth, od::value& value, od::json_type type, Slot& slot) {
  if (type != od::json_type::string) return wrong_type(node, depth, type);
  std::string_view text;
  if (!read_string(depth, value, text)) return false;
  const std::optional<int64_t> micros = parse_timestamp_ntz_micros(text);
  if (micros) {
    slot.int_value = *micros;
    return true;
  }
  if (parse_timestamp_micros(text)) {
    return fail(field_prefix(depth) + quoted(text) +
                " has a time zone; TIMESTAMP_NTZ takes a local date-time without one (as Spark's from_json)");
  }
  return fail(field_prefix(depth) + quoted(text) +
              " is not a valid TIMESTAMP_NTZ (ISO-8601 without zone such as 2025-11-06T12:30:00.123, "
              "years 0001-9999)");
}

// Exact decimal text → unscaled 128-bit integer (decimal.h), from a JSON number as written or from
// a JSON string, where Spark also takes a leading '+' and ignores commas ("1,000.5").
bool RecordParser::read_decimal(uint32_t node, int depth, od::value& value, od::json_type type, Slot& slot) {
  std::string_view text;
  bool from_string = false;
  if (type == od::json_type::number) {
    text = trim_right(value.raw_json_token());
    // On-Demand does not check a number it is not asked to convert.
    if (!json_text::is_json_number(text)) return malformed_value(depth, text, simdjson::NUMBER_ERROR);
  } else if (type == od::json_type::string) {
    if (!read_string(depth, value, text)) return false;
    from_string = true;
  } else {
    return wrong_type(node, depth, type);
  }
  std::string_view digits = text;
  if (from_string && std::memchr(text.data(), ',', text.size()) != nullptr) {
    char* out = scratch_.get() + scratch_used_;  // not kept: the bytes after this record's values
    size_t n = 0;
    for (char c : text) {
      if (c != ',') out[n++] = c;
    }
    digits = std::string_view(out, n);
  }
  const FieldNode& field = tree_.node(node);
  DecimalValue decimal;
  switch (parse_decimal(digits, field.precision, field.scale, from_string, decimal)) {
    case DecimalParse::kOk: break;
    case DecimalParse::kMalformed:
      return fail(field_prefix(depth) + quoted(text) + " is not a valid " + type_text(node) +
                  " (digits with an optional sign, point and exponent, such as -12.30 or 1.23E+2)");
    case DecimalParse::kOverflow:
      return fail(field_prefix(depth) + quoted(text) + " does not fit " + type_text(node) + " (at most " +
                  std::to_string(field.precision - field.scale) + " digits before the point)");
  }
  if (decimal.rounded) {
    // Spark's from_json rounds HALF_UP here; a pipeline of record must not change a price
    // silently, so the record goes to the dead-letter output with the digit it would lose.
    return fail(field_prefix(depth) + quoted(text) + " has more digits after the point than " + type_text(node) +
                " keeps (" + std::to_string(field.scale) + "); kpipe does not round");
  }
  slot.int_value = static_cast<int64_t>(decimal.low);
  slot.decimal_high = decimal.high;
  return true;
}

bool RecordParser::read_binary(uint32_t node, int depth, od::value& value, od::json_type type, Slot& slot) {
  if (type != od::json_type::string) return wrong_type(node, depth, type);
  std::string_view text;
  if (!read_string(depth, value, text)) return false;
  char* out = scratch_.get() + scratch_used_;
  size_t error_at = 0;
  const long size = decode_base64(text, out, error_at);
  if (size < 0) {
    const std::string where =
        error_at < text.size() ? "at character " + std::to_string(error_at + 1) : "(it ends inside a group of 4)";
    return fail(field_prefix(depth) + quoted(text) + " is not valid base64 " + where +
                " (BINARY takes standard base64 with '=' padding, as Spark)");
  }
  if (static_cast<size_t>(size) > max_string_bytes_) {
    return fail(field_prefix(depth) + "binary value is " + std::to_string(size) +
                " bytes, over MAX_STRING_BYTES=" + std::to_string(max_string_bytes_));
  }
  slot.string_value = std::string_view(out, static_cast<size_t>(size));
  scratch_used_ += static_cast<size_t>(size);
  return true;
}

}  // namespace kpipe
