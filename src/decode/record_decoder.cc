#include "decode/record_decoder.h"

#include <algorithm>
#include <cfloat>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <arrow/builder.h>
#include <arrow/type.h>
#include <simdjson.h>

#include "decode/timestamp.h"

namespace kpipe {
namespace {

namespace od = simdjson::ondemand;

// What one record's fields parsed into, before anything touches the builders. Strings point into
// the padded copy of the payload or the parser's string buffer: valid until the next iterate().
enum class SlotState : uint8_t { kMissing, kNull, kValue };

struct Slot {
  SlotState state = SlotState::kMissing;
  int64_t int_value = 0;      // BIGINT, INT, BOOLEAN (0/1), TIMESTAMP (micros), DATE (days)
  double double_value = 0.0;  // DOUBLE, FLOAT
  std::string_view string_value;
};

struct Column {
  std::string name;
  ColumnType type;
  bool nullable;
  // The name has no '"' or '\', so a JSON key without escapes equals it iff the raw key bytes do.
  bool plain_name;
};

// Arrow's utf8 arrays use int32 offsets; a builder refuses data past this.
constexpr int64_t kMaxStringColumnBytes = std::numeric_limits<int32_t>::max() - 1;
// Largest number of bytes of a value quoted in a reason; the payload itself keeps everything.
constexpr size_t kMaxQuotedBytes = 64;
// The parser and the padded copy start this large so typical events never grow them.
constexpr size_t kInitialCapacity = 64 * 1024;
// Upper bounds for the capacity carried from one batch to the next.
constexpr int64_t kMaxReservedRows = 1 << 20;
constexpr int64_t kMaxReservedStringBytes = 64 << 20;
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
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                            token.back() == '\r')) {
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

// 'value' for a reason, cut at a UTF-8 character boundary so the reason stays valid UTF-8.
std::string quoted(std::string_view value) {
  if (value.size() <= kMaxQuotedBytes) return "'" + std::string(value) + "'";
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  return "'" + std::string(value.substr(0, cut)) + "...' (" + std::to_string(value.size()) +
         " bytes)";
}

std::string document_error(simdjson::error_code error) {
  switch (error) {
    case simdjson::UTF8_ERROR: return "invalid UTF-8";
    case simdjson::EMPTY: return "empty message (only whitespace)";
    default: return std::string("malformed JSON: ") + simdjson::error_message(error);
  }
}

}  // namespace

class RecordDecoder::Impl {
 public:
  Impl(Schema schema, int partition_column, DecodeLimits limits, arrow::MemoryPool* pool)
      : schema_(std::move(schema)), limits_(limits), pool_(pool) {
    if (partition_column < 0 || static_cast<size_t>(partition_column) >= schema_.columns.size()) {
      throw std::invalid_argument("RecordDecoder: partition column index out of range");
    }
    partition_column_ = static_cast<size_t>(partition_column);
    partition_type_ = schema_.columns[partition_column_].type;
    if (partition_type_ != ColumnType::kTimestamp && partition_type_ != ColumnType::kDate) {
      throw std::invalid_argument("RecordDecoder: partition column must be TIMESTAMP or DATE");
    }
    if (!schema_.arrow_schema ||
        static_cast<size_t>(schema_.arrow_schema->num_fields()) != schema_.columns.size()) {
      throw std::invalid_argument("RecordDecoder: schema.arrow_schema does not match the columns");
    }
    for (size_t i = 0; i < schema_.columns.size(); ++i) {
      const ColumnSpec& spec = schema_.columns[i];
      const bool plain = spec.name.find_first_of("\"\\") == std::string::npos;
      columns_.push_back(Column{spec.name, spec.type, spec.nullable, plain});
      builders_.push_back(make_builder(spec.type));
      if (i == partition_column_ || !spec.nullable) required_.push_back(i);
      if (spec.type == ColumnType::kString) string_columns_.push_back(i);
    }
    if (columns_.size() > kLinearLookupColumns) {
      for (size_t i = 0; i < columns_.size(); ++i) index_by_name_.emplace(columns_[i].name, i);
    }
    slots_.resize(columns_.size());
    grow_buffer(kInitialCapacity);
    reserve_for_next_batch();
  }

  void add(const RawRecord& record) {
    if (!builder_error_.ok()) return;  // the batch is lost anyway; finish() reports why
    const std::string_view payload = record.payload;
    if (payload.empty()) return reject(record, "empty message");
    if (payload.size() > limits_.max_record_bytes) {
      return reject(record, "record is " + std::to_string(payload.size()) +
                                " bytes, over MAX_RECORD_BYTES=" +
                                std::to_string(limits_.max_record_bytes));
    }
    if (payload.size() + simdjson::SIMDJSON_PADDING > buffer_capacity_) grow_buffer(payload.size());
    std::memcpy(buffer_.get(), payload.data(), payload.size());
    length_ = payload.size();
    if (!parse_record()) return reject(record, std::move(reason_));
    append_row();
  }

  size_t good_rows() const { return good_rows_; }
  size_t bad_rows() const { return bad_.size(); }

  size_t buffered_bytes() const {
    size_t bytes = dt_days_.size() * sizeof(int32_t);
    for (size_t i = 0; i < columns_.size(); ++i) {
      const auto length = static_cast<size_t>(builders_[i]->length());
      if (columns_[i].type == ColumnType::kString) {
        auto* builder = static_cast<arrow::StringBuilder*>(builders_[i].get());
        bytes += length * sizeof(int32_t) + static_cast<size_t>(builder->value_data_length());
      } else {
        bytes += length * 8;
      }
    }
    return bytes;
  }

  Result<DecodedBatch> finish() {
    if (!builder_error_.ok()) {
      Status error = std::move(builder_error_);
      reset();
      return error;
    }
    arrow::ArrayVector arrays(builders_.size());
    for (size_t i = 0; i < builders_.size(); ++i) {
      const arrow::Status st = builders_[i]->Finish(&arrays[i]);
      if (!st.ok()) {
        reset();
        return Status::fatal("decoding batch: finishing column '" + columns_[i].name +
                             "': " + st.ToString());
      }
    }
    DecodedBatch batch;
    batch.rows = arrow::RecordBatch::Make(schema_.arrow_schema, static_cast<int64_t>(good_rows_),
                                          std::move(arrays));
    batch.dt_days = std::move(dt_days_);
    batch.bad = std::move(bad_);
    last_rows_ = static_cast<int64_t>(good_rows_);
    reset();
    return batch;
  }

 private:
  std::unique_ptr<arrow::ArrayBuilder> make_builder(ColumnType type) {
    switch (type) {
      case ColumnType::kString: return std::make_unique<arrow::StringBuilder>(pool_);
      case ColumnType::kInt64: return std::make_unique<arrow::Int64Builder>(pool_);
      case ColumnType::kInt32: return std::make_unique<arrow::Int32Builder>(pool_);
      case ColumnType::kDouble: return std::make_unique<arrow::DoubleBuilder>(pool_);
      case ColumnType::kFloat: return std::make_unique<arrow::FloatBuilder>(pool_);
      case ColumnType::kBoolean: return std::make_unique<arrow::BooleanBuilder>(pool_);
      case ColumnType::kTimestamp:
        return std::make_unique<arrow::TimestampBuilder>(
            arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), pool_);
      case ColumnType::kDate: return std::make_unique<arrow::Date32Builder>(pool_);
    }
    throw std::invalid_argument("RecordDecoder: unknown column type");
  }

  // Grows geometrically so a stream of ever-larger records costs O(log n) allocations; the
  // parser is sized with the buffer because it would otherwise reallocate for every new maximum.
  void grow_buffer(size_t payload_size) {
    const size_t capacity = std::max(payload_size, buffer_capacity_ * 2);
    // Value-initialised: simdjson reads the padding, and tools like MSan rightly flag
    // uninitialised reads.
    buffer_.reset(new char[capacity + simdjson::SIMDJSON_PADDING]());
    buffer_capacity_ = capacity + simdjson::SIMDJSON_PADDING;
    // On failure the parser keeps its old size and iterate() reports MEMALLOC for the record
    // that needs more, which then becomes a bad record: nothing to handle here.
    const simdjson::error_code ignored = parser_.allocate(capacity);
    (void)ignored;
  }

  void reject(const RawRecord& record, std::string reason) {
    BadRecord bad;
    bad.partition = record.partition;
    bad.offset = record.offset;
    bad.timestamp_ms = record.timestamp_ms;
    bad.reason = std::move(reason);
    bad.payload.assign(record.payload.data(), record.payload.size());
    bad_.push_back(std::move(bad));
  }

  bool fail(std::string reason) {
    reason_ = std::move(reason);
    return false;
  }

  std::string field_prefix(size_t column) const { return "field '" + columns_[column].name + "': "; }

  // Parses the padded copy into slots_. False with reason_ set if the record is bad; nothing
  // outside slots_ and the parser is touched, so a bad record leaves no trace in the batch.
  bool parse_record() {
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
    const char* trailing = nullptr;
    if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
      return fail("malformed JSON: unexpected " + quoted(trim_right(std::string_view(
                                                       trailing, length_ - (trailing - buffer_.get())))) +
                  " after the object");
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
  static std::string not_an_object(od::document& doc, od::json_type type) {
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
        double number;
        error = doc.get_double().get(number);
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

  enum class KeyMatch { kColumn, kIgnored, kError };

  KeyMatch match_key(od::field& field, size_t expected, size_t& column) {
    const od::raw_json_string raw = field.key();
    if (expected < columns_.size() && columns_[expected].plain_name &&
        raw.unsafe_is_equal(columns_[expected].name)) {
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
  bool validate_ignored(od::value value, int depth = 1) {
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
          if ((error = std::move(field_result).get(field)) ||
              (error = field.unescaped_key().get(key))) {
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
        error = value.get_double().get(number);
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

  bool wrong_type(size_t column, od::json_type got, std::string_view detail = {}) {
    std::string reason = field_prefix(column) + "expected " +
                         std::string(column_type_name(columns_[column].type)) + ", got " +
                         std::string(json_type_name(got));
    if (!detail.empty()) reason += " " + std::string(detail);
    return fail(std::move(reason));
  }

  bool malformed_value(size_t column, std::string_view token, simdjson::error_code error) {
    return fail("malformed JSON in field '" + columns_[column].name + "': " +
                quoted(trim_right(token)) + ": " + simdjson::error_message(error));
  }

  bool read_string(size_t column, od::value& value, std::string_view& text) {
    const std::string_view token = value.raw_json_token();
    if (simdjson::error_code error = value.get_string().get(text)) {
      return malformed_value(column, token, error);
    }
    return true;
  }

  // An integer token, or the reason it is not one: malformed, fractional or out of int64 range.
  bool read_int64(size_t column, od::value& value, int64_t& number) {
    const std::string_view token = trim_right(value.raw_json_token());
    if (value.get_int64().get(number) == simdjson::SUCCESS) return true;
    double as_double;
    if (simdjson::error_code error = value.get_double().get(as_double)) {
      return malformed_value(column, token, error);
    }
    return wrong_type(column, od::json_type::number,
                      std::string(token.substr(0, kMaxQuotedBytes)) +
                          (is_integer_token(token) ? " (out of range)" : " (not an integer)"));
  }

  bool read_value(size_t column, od::value value) {
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
          return fail(field_prefix(column) + quoted(text) +
                      " is not a valid DATE (YYYY-MM-DD, years 0001-9999)");
        }
        slot.int_value = *days;
        break;
      }
    }
    slot.state = SlotState::kValue;
    return true;
  }

  bool read_string_column(size_t column, od::value& value, od::json_type type, Slot& slot) {
    std::string_view text;
    switch (type) {
      case od::json_type::string:
        if (!read_string(column, value, text)) return false;
        break;
      case od::json_type::number: {
        // Kept as written (Spark does the same), but only once it is a valid JSON number.
        text = trim_right(value.raw_json_token());
        double ignored;
        if (simdjson::error_code error = value.get_double().get(ignored)) {
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
      default:
        return wrong_type(column, type);
    }
    if (text.size() > limits_.max_string_bytes) {
      return fail(field_prefix(column) + "string is " + std::to_string(text.size()) +
                  " bytes, over MAX_STRING_BYTES=" + std::to_string(limits_.max_string_bytes));
    }
    slot.string_value = text;
    return true;
  }

  bool read_floating(size_t column, od::value& value, od::json_type type, Slot& slot) {
    if (type != od::json_type::number) return wrong_type(column, type);
    const std::string_view token = trim_right(value.raw_json_token());
    if (value.get_double().get(slot.double_value) != simdjson::SUCCESS) {
      // simdjson refuses numbers that overflow a double (1e400) as well as malformed ones.
      return fail(field_prefix(column) + quoted(token) + " is not a valid " +
                  std::string(column_type_name(columns_[column].type)) +
                  " (malformed or out of range)");
    }
    if (columns_[column].type == ColumnType::kFloat &&
        (slot.double_value > FLT_MAX || slot.double_value < -FLT_MAX)) {
      return fail(field_prefix(column) + quoted(token) + " is out of FLOAT range");
    }
    return true;
  }

  bool read_timestamp(size_t column, od::value& value, od::json_type type, Slot& slot) {
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

  void append_row() {
    // Checked before any append so a row is either fully in the builders or not at all.
    for (size_t column : string_columns_) {
      const Slot& slot = slots_[column];
      auto* builder = static_cast<arrow::StringBuilder*>(builders_[column].get());
      if (slot.state == SlotState::kValue &&
          builder->value_data_length() + static_cast<int64_t>(slot.string_value.size()) >
              kMaxStringColumnBytes) {
        builder_error_ = Status::fatal(
            "decoding batch: column '" + columns_[column].name +
            "' holds over 2 GiB of string data, Arrow's limit for one batch; lower "
            "MAX_OFFSETS_PER_TRIGGER");
        return;
      }
    }
    arrow::Status st;
    for (size_t column = 0; column < columns_.size() && st.ok(); ++column) {
      const Slot& slot = slots_[column];
      arrow::ArrayBuilder* builder = builders_[column].get();
      if (slot.state != SlotState::kValue) {
        st = builder->AppendNull();
        continue;
      }
      switch (columns_[column].type) {
        case ColumnType::kString:
          st = static_cast<arrow::StringBuilder*>(builder)->Append(slot.string_value);
          break;
        case ColumnType::kInt64:
          st = static_cast<arrow::Int64Builder*>(builder)->Append(slot.int_value);
          break;
        case ColumnType::kInt32:
          st = static_cast<arrow::Int32Builder*>(builder)->Append(static_cast<int32_t>(slot.int_value));
          break;
        case ColumnType::kDouble:
          st = static_cast<arrow::DoubleBuilder*>(builder)->Append(slot.double_value);
          break;
        case ColumnType::kFloat:
          st = static_cast<arrow::FloatBuilder*>(builder)->Append(static_cast<float>(slot.double_value));
          break;
        case ColumnType::kBoolean:
          st = static_cast<arrow::BooleanBuilder*>(builder)->Append(slot.int_value != 0);
          break;
        case ColumnType::kTimestamp:
          st = static_cast<arrow::TimestampBuilder*>(builder)->Append(slot.int_value);
          break;
        case ColumnType::kDate:
          st = static_cast<arrow::Date32Builder*>(builder)->Append(static_cast<int32_t>(slot.int_value));
          break;
      }
    }
    if (!st.ok()) {
      builder_error_ = Status::fatal("decoding batch: appending a row: " + st.ToString());
      return;
    }
    const int64_t partition_value = slots_[partition_column_].int_value;
    dt_days_.push_back(partition_type_ == ColumnType::kTimestamp
                           ? days_from_micros(partition_value)
                           : static_cast<int32_t>(partition_value));
    ++good_rows_;
  }

  void reset() {
    for (auto& builder : builders_) builder->Reset();
    dt_days_ = {};
    bad_ = {};
    good_rows_ = 0;
    builder_error_ = Status::success();
    reserve_for_next_batch();
  }

  // Arrow's Finish() hands the buffers to the arrays, so capacity cannot be kept as such; the last
  // batch's size (bounded) is the best guess for the next one and saves the doubling copies.
  void reserve_for_next_batch() {
    const int64_t rows = std::clamp<int64_t>(last_rows_, 1024, kMaxReservedRows);
    dt_days_.reserve(static_cast<size_t>(rows));
    for (size_t i = 0; i < builders_.size() && builder_error_.ok(); ++i) {
      arrow::Status st = builders_[i]->Reserve(rows);
      if (st.ok() && columns_[i].type == ColumnType::kString) {
        st = static_cast<arrow::StringBuilder*>(builders_[i].get())
                 ->ReserveData(std::min<int64_t>(rows * 32, kMaxReservedStringBytes));
      }
      if (!st.ok()) builder_error_ = Status::fatal("decoding batch: reserving memory: " + st.ToString());
    }
  }

  Schema schema_;
  DecodeLimits limits_;
  arrow::MemoryPool* pool_;
  size_t partition_column_ = 0;
  ColumnType partition_type_ = ColumnType::kTimestamp;
  std::vector<Column> columns_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;
  std::vector<size_t> required_;        // partition column and NOT NULL columns
  std::vector<size_t> string_columns_;  // checked against Arrow's 2 GiB limit before a row
  std::unordered_map<std::string_view, size_t> index_by_name_;  // only for wide schemas
  std::vector<Slot> slots_;

  od::parser parser_;
  std::unique_ptr<char[]> buffer_;  // padded copy of the current payload
  size_t buffer_capacity_ = 0;      // bytes allocated, padding included
  size_t length_ = 0;               // bytes of the current payload

  std::vector<int32_t> dt_days_;
  std::vector<BadRecord> bad_;
  size_t good_rows_ = 0;
  int64_t last_rows_ = 0;
  Status builder_error_;
  std::string reason_;
};

RecordDecoder::RecordDecoder(Schema schema, int partition_column, DecodeLimits limits,
                             arrow::MemoryPool* pool)
    : impl_(std::make_unique<Impl>(std::move(schema), partition_column, limits, pool)) {}
RecordDecoder::~RecordDecoder() = default;
RecordDecoder::RecordDecoder(RecordDecoder&&) noexcept = default;
RecordDecoder& RecordDecoder::operator=(RecordDecoder&&) noexcept = default;

void RecordDecoder::add(const RawRecord& record) { impl_->add(record); }
size_t RecordDecoder::good_rows() const { return impl_->good_rows(); }
size_t RecordDecoder::bad_rows() const { return impl_->bad_rows(); }
size_t RecordDecoder::buffered_bytes() const { return impl_->buffered_bytes(); }
Result<DecodedBatch> RecordDecoder::finish() { return impl_->finish(); }

}  // namespace kpipe
