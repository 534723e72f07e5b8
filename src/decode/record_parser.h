// Internal to src/decode (RecordDecoder's first half): one JSON payload → one value per schema
// column, or the reason the record is bad. Nothing here touches Arrow, so a bad record can never
// leave part of a row behind: RecordDecoder appends to its builders only after parse() succeeded.
//
// See record_decoder.h for the accepted JSON and the reasons; this class implements them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "decode/schema.h"

namespace kpipe {

enum class SlotState : uint8_t { kMissing, kNull, kValue };

// One column's value in the record being parsed.
struct Slot {
  SlotState state = SlotState::kMissing;
  int64_t int_value = 0;      // BIGINT, INT, BOOLEAN (0/1), TIMESTAMP (micros), DATE (days)
  double double_value = 0.0;  // DOUBLE, FLOAT
  // STRING: points into the parser's padded copy of the payload or its string buffer, so it is
  // valid only until the next parse().
  std::string_view string_value;
};

class RecordParser {
 public:
  // partition_column must be a valid index (RecordDecoder checks it).
  RecordParser(const std::vector<ColumnSpec>& columns, size_t partition_column, size_t max_string_bytes);
  // index_by_name_ points into columns_, and slots into buffer_: never copied or moved.
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  // Parses one non-empty payload. True: slots() holds every column, the partition column and NOT
  // NULL columns with a value. False: reason() says why the record is bad. Never throws.
  bool parse(std::string_view payload);

  const std::vector<Slot>& slots() const { return slots_; }
  std::string& reason() { return reason_; }

 private:
  enum class KeyMatch { kColumn, kIgnored, kError };
  struct Column {
    std::string name;
    ColumnType type;
    bool nullable;
    // No '"' or '\' in the name: a JSON key without escapes equals it iff the raw bytes do.
    bool plain_name;
  };

  void grow_buffer(size_t payload_size);
  bool fail(std::string reason);
  std::string field_prefix(size_t column) const;
  static std::string not_an_object(simdjson::ondemand::document& doc, simdjson::ondemand::json_type type);
  KeyMatch match_key(simdjson::ondemand::field& field, size_t expected, size_t& column);
  bool validate_ignored(simdjson::ondemand::value value, int depth = 1);
  bool read_value(size_t column, simdjson::ondemand::value value);
  bool read_string(size_t column, simdjson::ondemand::value& value, std::string_view& text);
  bool read_int64(size_t column, simdjson::ondemand::value& value, int64_t& number);
  bool read_string_column(size_t column, simdjson::ondemand::value& value, simdjson::ondemand::json_type type,
                          Slot& slot);
  bool read_floating(size_t column, simdjson::ondemand::value& value, simdjson::ondemand::json_type type, Slot& slot);
  bool read_timestamp(size_t column, simdjson::ondemand::value& value, simdjson::ondemand::json_type type, Slot& slot);
  bool wrong_type(size_t column, simdjson::ondemand::json_type got, std::string_view detail = {});
  bool malformed_value(size_t column, std::string_view token, simdjson::error_code error);

  std::vector<Column> columns_;
  size_t partition_column_;
  size_t max_string_bytes_;
  std::vector<size_t> required_;                                // the partition column and NOT NULL columns
  std::unordered_map<std::string_view, size_t> index_by_name_;  // only for wide schemas
  std::vector<Slot> slots_;
  std::string reason_;

  simdjson::ondemand::parser parser_;
  std::unique_ptr<char[]> buffer_;  // padded copy of the current payload
  size_t buffer_capacity_ = 0;      // bytes allocated, padding included
  size_t length_ = 0;               // bytes of the current payload
};

}  // namespace kpipe
