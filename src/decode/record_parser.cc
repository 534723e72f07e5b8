#include "decode/record_parser.h"

#include <algorithm>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "decode/timestamp.h"

namespace kpipe {

namespace od = simdjson::ondemand;

namespace {

// Largest number of bytes of a value quoted in a reason; the payload itself keeps everything.
constexpr size_t kMaxQuotedBytes = 64;
// The parser and the padded copy start this large (the seed's events are 115 bytes) and grow
// geometrically for larger ones. The engine keeps a decoder per partition: at 64 KiB each
// decoder's parser took 380 KiB, 36 MB for 96 partitions (heaptrack).
constexpr size_t kInitialCapacity = 4 * 1024;
// Deepest nesting accepted inside an ignored field. It keeps the document's depth under the
// parser's max_depth (1024), which On-Demand asserts in debug builds and never checks in release.
constexpr int kMaxNestingDepth = 1000;
// Schemas wider than this look keys up in a hash map instead of scanning the columns.
constexpr size_t kLinearLookupColumns = 16;

std::string_view json_type_name(od::json_type type) {
  switch (type) {
    case od::json_type::array: return "array";
    case od::json_type::object: return "object";
    case od::json_type::number: return "number";
    case od::json_type::string: return "string";
    case od::json_type::boolean: return "boolean";
    case od::json_type::null: return "null";
  }
  return "unknown";
}

std::string_view trim_right(std::string_view token) {
  while (!token.empty() &&
         (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' || token.back() == '\r')) {
    token.remove_suffix(1);
  }
  return token;
}

bool is_integer_token(std::string_view token) {
  size_t i = token.size() > 0 && token[0] == '-' ? 1 : 0;
  if (i == token.size()) return false;
  for (; i < token.size(); ++i) {
    if (token[i] < '0' || token[i] > '9') return false;
  }
  return true;
}

// The JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    const size_t start = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > start;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

// simdjson's On-Demand number parser refuses a few valid JSON numbers that its DOM parser
// accepts (found by fuzzing: 0e39999999999999999999 is zero, but On-Demand reports NUMBER_ERROR).
// When it refuses, the grammar and from_chars decide; a number beyond double range stays refused.
template <typename Value>
simdjson::error_code read_double(Value& value, std::string_view token, double& out) {
  const simdjson::error_code error = value.get_double().get(out);
  if (error != simdjson::NUMBER_ERROR || !is_json_number(token)) return error;
  const char* end = token.data() + token.size();
  const auto [ptr, ec] = std::from_chars(token.data(), end, out);
  if (ec == std::errc::result_out_of_range && token.find_first_of("eE") != std::string_view::npos &&
      token[token.find_first_of("eE") + 1] == '-') {
    out = token[0] == '-' ? -0.0 : 0.0;  // underflow is zero, as in simdjson's own parser
    return simdjson::SUCCESS;
  }
  if (ec != std::errc() || ptr != end || !std::isfinite(out)) return simdjson::NUMBER_ERROR;
  return simdjson::SUCCESS;
}

// 'value' for a reason, cut at a UTF-8 character boundary so the reason stays valid UTF-8.
std::string quoted(std::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return "'" + std::string(value) + "'";
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(value.substr(0, cut)) + "...' (" + std::to_string(value.size()) + " bytes)";
}

std::string document_error(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::EMPTY: return "empty message (only whitespace)";
    default: return std::string("malformed JSON: ") + simdjson::error_message(error);
  }
}

}  // namespace

RecordParser::RecordParser(const std::vector<ColumnSpec>& columns, size_t partition_column, size_t max_string_bytes)
    : partition_column_(partition_column), max_string_bytes_(max_string_bytes) {
  for (size_t i = 0; i < columns.size(); ++i) {
    const ColumnSpec& spec = columns[i];
    const bool plain = spec.name.find_first_of("\"\\") == std::string::npos;
    columns_.push_back(Column{spec.name, spec.type, spec.nullable, plain});
    if (i == partition_column_ || !spec.nullable) required_.push_back(i);
  }
  if (columns_.size() > kLinearLookupColumns) {
    for (size_t i = 0; i < columns_.size(); ++i) index_by_name_.emplace(columns_[i].name, i);
  }
  slots_.resize(columns_.size());
  grow_buffer(kInitialCapacity);
}

// Grows geometrically so a stream of ever-larger records costs O(log n) allocations; the parser
// is sized with the buffer because it would otherwise reallocate for every new maximum.
void RecordParser::grow_buffer(size_t payload_size) {
  const size_t capacity = std::max(payload_size, buffer_capacity_ * 2);
  // Value-initialised: simdjson reads the padding, and tools like MSan rightly flag uninitialised
  // reads.
  buffer_.reset(new char[capacity + simdjson::SIMDJSON_PADDING]());
  buffer_capacity_ = capacity + simdjson::SIMDJSON_PADDING;
  // On failure the parser keeps its old size and iterate() reports MEMALLOC for the record that
  // needs more, which then becomes a bad record: nothing to handle here.
  const simdjson::error_code ignored = parser_.allocate(capacity);
  (void)ignored;
}

bool RecordParser::fail(std::string reason) {
  reason_ = std::move(reason);
  return false;
}

std::string RecordParser::field_prefix(size_t column) const { return "field '" + columns_[column].name + "': "; }

bool RecordParser::parse(std::string_view payload) {
  if (payload.size() + simdjson::SIMDJSON_PADDING > buffer_capacity_) grow_buffer(payload.size());
  std::memcpy(buffer_.get(), payload.data(), payload.size());
  length_ = payload.size();
  for (Slot& slot : slots_) slot.state = SlotState::kMissing;
  od::document doc;
  simdjson::error_code error = parser_.iterate(buffer_.get(), length_, buffer_capacity_).get(doc);
  if (error) return fail(document_error(error));
  od::json_type root_type;
  if ((error = doc.type().get(root_type))) return fail(document_error(error));
  if (root_type != od::json_type::object) return fail(not_an_object(doc, root_type));
  od::object object;
  if ((error = doc.get_object().get(object))) return fail(document_error(error));

  size_t expected = 0;  // producers usually write fields in schema order: try that column first
  for (auto field_result : object) {
    od::field field;
    if ((error = std::move(field_result).get(field))) return fail(document_error(error));
    size_t column = 0;
    switch (match_key(field, expected, column)) {
      case KeyMatch::kError: return false;
      case KeyMatch::kIgnored:
        if (!validate_ignored(field.value())) return false;
        continue;
      case KeyMatch::kColumn: break;
    }
    expected = column + 1;
    if (slots_[column].state != SlotState::kMissing) {
      return fail("field '" + columns_[column].name + "' appears more than once");
    }
    if (!read_value(column, field.value())) return false;
  }
  // On-Demand stops at the object's closing brace; anything but whitespace after it is an error.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    const std::string_view rest(trailing, length_ - static_cast<size_t>(trailing - buffer_.get()));
    return fail("malformed JSON: unexpected " + quoted(trim_right(rest)) + " after the object");
  }
  for (size_t column : required_) {
    const SlotState state = slots_[column].state;
    if (state == SlotState::kValue) continue;
    const char* what = state == SlotState::kNull ? " (null)" : "";
    if (column == partition_column_) {
      return fail("missing partition column '" + columns_[column].name + "'" + what);
    }
    return fail("field '" + columns_[column].name + "' is NOT NULL but " +
                (state == SlotState::kNull ? "null" : "missing"));
  }
  return true;
}

// type() only peeks at the first byte, so "not json" looks like null: say "malformed" unless
// the scalar really is valid JSON.
std::string RecordParser::not_an_object(od::document& doc, od::json_type type) {
  simdjson::error_code error = simdjson::SUCCESS;
  switch (type) {
    case od::json_type::null: {
      bool is_null = false;
      error = doc.is_null().get(is_null);
      if (!error && !is_null) error = simdjson::INCORRECT_TYPE;
      break;
    }
    case od::json_type::boolean: {
      bool flag;
      error = doc.get_bool().get(flag);
      break;
    }
    case od::json_type::number: {
      std::string_view token;
      double number;
      error = doc.raw_json_token().get(token);
      if (!error) error = read_double(doc, trim_right(token), number);
      break;
    }
    case od::json_type::string: {
      std::string_view text;
      error = doc.get_string().get(text);
      break;
    }
    default: break;
  }
  if (error) return document_error(error);
  return "not a JSON object (got " + std::string(json_type_name(type)) + ")";
}

RecordParser::KeyMatch RecordParser::match_key(od::field& field, size_t expected, size_t& column) {
  const od::raw_json_string raw = field.key();
  if (expected < columns_.size() && columns_[expected].plain_name && raw.unsafe_is_equal(columns_[expected].name)) {
    column = expected;
    return KeyMatch::kColumn;
  }
  // Slow path: out-of-order, extra or escaped keys. A key without '\' ends at the first '"'.
  std::string_view key;
  const char* start = raw.raw();
  const size_t available = length_ - static_cast<size_t>(start - buffer_.get());
  const void* quote = std::memchr(start, '"', available);
  const size_t raw_length = quote ? static_cast<size_t>(static_cast<const char*>(quote) - start) : 0;
  if (quote && !std::memchr(start, '\\', raw_length)) {
    key = std::string_view(start, raw_length);
  } else if (simdjson::error_code error = field.unescaped_key().get(key)) {
    fail(document_error(error));
    return KeyMatch::kError;
  }
  if (!index_by_name_.empty()) {
    const auto it = index_by_name_.find(key);
    if (it == index_by_name_.end()) return KeyMatch::kIgnored;
    column = it->second;
    return KeyMatch::kColumn;
  }
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == key) {
      column = i;
      return KeyMatch::kColumn;
    }
  }
  return KeyMatch::kIgnored;
}

// On-Demand only checks what it is asked to read, so an ignored field is walked fully: a
// message with `"extra": tru` is malformed JSON and must not pass as a good row. On-Demand does
// not enforce a nesting limit either; without ours, 100k '[' in a 1 MB message overflow the
// stack.
bool RecordParser::validate_ignored(od::value value, int depth) {
  if (depth > kMaxNestingDepth) return fail(document_error(simdjson::DEPTH_ERROR));
  od::json_type type;
  simdjson::error_code error = value.type().get(type);
  if (error) return fail(document_error(error));
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if ((error = value.get_object().get(object))) return fail(document_error(error));
      for (auto field_result : object) {
        od::field field;
        std::string_view key;
        if ((error = std::move(field_result).get(field)) || (error = field.unescaped_key().get(key))) {
          return fail(document_error(error));
        }
        if (!validate_ignored(field.value(), depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::array: {
      od::array array;
      if ((error = value.get_array().get(array))) return fail(document_error(error));
      for (auto element_result : array) {
        od::value element;
        if ((error = std::move(element_result).get(element))) return fail(document_error(error));
        if (!validate_ignored(element, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::string: {
      std::string_view text;
      error = value.get_string().get(text);
      break;
    }
    case od::json_type::number: {
      double number;
      error = read_double(value, trim_right(value.raw_json_token()), number);
      break;
    }
    case od::json_type::boolean: {
      bool flag;
      error = value.get_bool().get(flag);
      break;
    }
    case od::json_type::null: {
      bool is_null = false;
      error = value.is_null().get(is_null);
      if (!error && !is_null) error = simdjson::INCORRECT_TYPE;
      break;
    }
  }
  if (error) {
    return fail("malformed JSON: " + quoted(trim_right(value.raw_json_token())) + ": " +
                simdjson::error_message(error));
  }
  return true;
}

bool RecordParser::wrong_type(size_t column, od::json_type got, std::string_view detail) {
  std::string reason = field_prefix(column) + "expected " + std::string(column_type_name(columns_[column].type)) +
                       ", got " + std::string(json_type_name(got));
  if (!detail.empty()) reason += " " + std::string(detail);
  return fail(std::move(reason));
}

bool RecordParser::malformed_value(size_t column, std::string_view token, simdjson::error_code error) {
  return fail("malformed JSON in field '" + columns_[column].name + "': " + quoted(trim_right(token)) + ": " +
              simdjson::error_message(error));
}

bool RecordParser::read_string(size_t column, od::value& value, std::string_view& text) {
  const std::string_view token = value.raw_json_token();
  if (simdjson::error_code error = value.get_string().get(text)) {
    return malformed_value(column, token, error);
  }
  return true;
}

// An integer token, or the reason it is not one: malformed, fractional or out of int64 range.
bool RecordParser::read_int64(size_t column, od::value& value, int64_t& number) {
  const std::string_view token = trim_right(value.raw_json_token());
  if (value.get_int64().get(number) == simdjson::SUCCESS) return true;
  double as_double;
  if (simdjson::error_code error = read_double(value, token, as_double)) {
    return malformed_value(column, token, error);
  }
  return wrong_type(column, od::json_type::number,
                    std::string(token.substr(0, kMaxQuotedBytes)) +
                        (is_integer_token(token) ? " (out of range)" : " (not an integer)"));
}

bool RecordParser::read_value(size_t column, od::value value) {
  Slot& slot = slots_[column];
  od::json_type type;
  simdjson::error_code error = value.type().get(type);
  if (error) return fail(document_error(error));
  if (type == od::json_type::null) {
    bool is_null = false;
    if ((error = value.is_null().get(is_null)) || !is_null) {
      return malformed_value(column, value.raw_json_token(), error ? error : simdjson::INCORRECT_TYPE);
    }
    slot.state = SlotState::kNull;
    return true;
  }
  switch (columns_[column].type) {
    case ColumnType::kString:
      if (!read_string_column(column, value, type, slot)) return false;
      break;
    case ColumnType::kInt64:
      if (type != od::json_type::number) return wrong_type(column, type);
      if (!read_int64(column, value, slot.int_value)) return false;
      break;
    case ColumnType::kInt32:
      if (type != od::json_type::number) return wrong_type(column, type);
      if (!read_int64(column, value, slot.int_value)) return false;
      if (slot.int_value < std::numeric_limits<int32_t>::min() ||
          slot.int_value > std::numeric_limits<int32_t>::max()) {
        return wrong_type(column, type, std::to_string(slot.int_value) + " (out of range)");
      }
      break;
    case ColumnType::kDouble:
    case ColumnType::kFloat:
      if (!read_floating(column, value, type, slot)) return false;
      break;
    case ColumnType::kBoolean: {
      if (type != od::json_type::boolean) return wrong_type(column, type);
      bool flag = false;
      const std::string_view token = value.raw_json_token();
      if ((error = value.get_bool().get(flag))) return malformed_value(column, token, error);
      slot.int_value = flag;
      break;
    }
    case ColumnType::kTimestamp:
      if (!read_timestamp(column, value, type, slot)) return false;
      break;
    case ColumnType::kDate: {
      if (type != od::json_type::string) return wrong_type(column, type);
      std::string_view text;
      if (!read_string(column, value, text)) return false;
      const std::optional<int32_t> days = parse_date_days(text);
      if (!days) {
        return fail(field_prefix(column) + quoted(text) + " is not a valid DATE (YYYY-MM-DD, years 0001-9999)");
      }
      slot.int_value = *days;
      break;
    }
    default: return fail(field_prefix(column) + "type not decoded yet");
  }
  slot.state = SlotState::kValue;
  return true;
}

bool RecordParser::read_string_column(size_t column, od::value& value, od::json_type type, Slot& slot) {
  std::string_view text;
  switch (type) {
    case od::json_type::string:
      if (!read_string(column, value, text)) return false;
      break;
    case od::json_type::number: {
      // Kept as written (Spark does the same), but only once it is a valid JSON number.
      text = trim_right(value.raw_json_token());
      double ignored;
      if (simdjson::error_code error = read_double(value, text, ignored)) {
        return malformed_value(column, text, error);
      }
      break;
    }
    case od::json_type::boolean: {
      text = trim_right(value.raw_json_token());
      bool ignored;
      if (simdjson::error_code error = value.get_bool().get(ignored)) {
        return malformed_value(column, text, error);
      }
      break;
    }
    default: return wrong_type(column, type);
  }
  if (text.size() > max_string_bytes_) {
    return fail(field_prefix(column) + "string is " + std::to_string(text.size()) +
                " bytes, over MAX_STRING_BYTES=" + std::to_string(max_string_bytes_));
  }
  slot.string_value = text;
  return true;
}

bool RecordParser::read_floating(size_t column, od::value& value, od::json_type type, Slot& slot) {
  if (type != od::json_type::number) return wrong_type(column, type);
  const std::string_view token = trim_right(value.raw_json_token());
  if (read_double(value, token, slot.double_value) != simdjson::SUCCESS) {
    // Numbers that overflow a double (1e400) are refused as well as malformed ones.
    return fail(field_prefix(column) + quoted(token) + " is not a valid " +
                std::string(column_type_name(columns_[column].type)) + " (malformed or out of range)");
  }
  if (columns_[column].type == ColumnType::kFloat && (slot.double_value > FLT_MAX || slot.double_value < -FLT_MAX)) {
    return fail(field_prefix(column) + quoted(token) + " is out of FLOAT range");
  }
  return true;
}

bool RecordParser::read_timestamp(size_t column, od::value& value, od::json_type type, Slot& slot) {
  if (type == od::json_type::string) {
    std::string_view text;
    if (!read_string(column, value, text)) return false;
    const std::optional<int64_t> micros = parse_timestamp_micros(text);
    if (!micros) {
      return fail(field_prefix(column) + quoted(text) +
                  " is not a valid TIMESTAMP (ISO-8601 such as 2025-11-06T12:30:00.123Z, "
                  "years 0001-9999)");
    }
    slot.int_value = *micros;
    return true;
  }
  if (type == od::json_type::number) {
    int64_t millis = 0;
    if (!read_int64(column, value, millis)) return false;
    if (millis < kMinTimestampMillis || millis > kMaxTimestampMillis) {
      return fail(field_prefix(column) + std::to_string(millis) +
                  " is out of TIMESTAMP range (epoch milliseconds for years 0001-9999)");
    }
    slot.int_value = millis * 1000;
    return true;
  }
  return wrong_type(column, type);
}

}  // namespace kpipe
