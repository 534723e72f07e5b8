// Internal to src/decode (RecordDecoder's first half): one JSON payload → a tape of values laid
// out along the schema tree, or the reason the record is bad. Nothing here touches Arrow, so a bad
// record can never leave part of a row behind: RecordDecoder appends to its builders only after
// parse() succeeded (row_appender.h walks the tape).
//
// The tape, a vector of Slots whose capacity is kept from record to record:
//   - tape[0 .. columns) are the top-level columns, in schema order;
//   - a STRUCT value is a contiguous block of one slot per field, in schema order, allocated when
//     its '{' is read and filled as its keys arrive (in any order); the struct's slot points to it;
//   - an ARRAY value's slot holds its element count and the index of its first element; each
//     element's slot holds the index of the next (elements are not contiguous: an element's own
//     nested values are allocated right after it);
//   - a MAP value is the same with entries: a key slot, its value slot right after it, and the
//     key slot holds the index of the next entry's key slot.
//
// Implemented in record_parser.cc (documents, objects, arrays, maps, keys, paths) and
// record_parser_values.cc (scalars). See record_decoder.h for the accepted JSON and the reasons.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "decode/field_tree.h"
#include "decode/schema.h"

namespace kpipe {

enum class SlotState : uint8_t { kMissing, kNull, kValue };

// One value of the record being parsed.
struct Slot {
  SlotState state = SlotState::kMissing;
  uint32_t first = 0;  // STRUCT: its block of fields; ARRAY: first element; MAP: first entry's key
  uint32_t count = 0;  // ARRAY, MAP: elements or entries
  uint32_t next = 0;   // an ARRAY element or a MAP key: the next one (valid while count lasts)
  // BIGINT, INT, SMALLINT, TINYINT, BOOLEAN (0/1), TIMESTAMP and TIMESTAMP_NTZ (micros), DATE
  // (days); DECIMAL: the low 64 bits of the unscaled value.
  int64_t int_value = 0;
  union {
    double double_value = 0.0;  // DOUBLE, FLOAT
    int64_t decimal_high;       // DECIMAL: the high 64 bits
  };
  // STRING, a MAP key: points into the parser's padded copy of the payload or simdjson's string
  // buffer; BINARY: the decoded bytes in the parser's scratch buffer. Valid until the next parse().
  std::string_view string_value;
};

class RecordParser {
 public:
  // partition_column must be a valid index (RecordDecoder checks it). A record whose tape would
  // need more than max_values slots is bad (it bounds the memory one record can take).
  RecordParser(const std::vector<ColumnSpec>& columns, size_t partition_column, size_t max_string_bytes,
               size_t max_values);
  // The tape points into buffer_ and the tree's lookups into itself: never copied or moved.
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;

  // Parses one non-empty payload. True: tape() holds the record, the partition column and NOT
  // NULL fields with a value. False: reason() says why the record is bad. Never throws.
  bool parse(std::string_view payload);

  const std::vector<Slot>& tape() const { return tape_; }
  const FieldTree& tree() const { return tree_; }
  std::string& reason() { return reason_; }

 private:
  enum class KeyMatch { kField, kIgnored, kError };
  // One step of the path from the record to the value being read, for reasons only.
  struct PathStep {
    enum Kind : uint8_t { kField, kElement, kMapValue } kind;
    uint32_t node_or_index;  // kField: the field's node; kElement: the element's index
    std::string_view key;    // kMapValue: the (unescaped) key
  };
  using JsonValue = simdjson::ondemand::value;
  using JsonType = simdjson::ondemand::json_type;

  // record_parser.cc
  void grow_buffer(size_t payload_size);
  bool fail(std::string reason);
  std::string path_text(int depth) const;
  std::string field_prefix(int depth) const;
  bool allocate(uint32_t count, uint32_t& first, int depth);
  static std::string not_an_object(simdjson::ondemand::document& doc, JsonType type);
  bool read_fields(uint32_t node, simdjson::ondemand::object& object, uint32_t block, int depth);
  KeyMatch match_key(uint32_t node, simdjson::ondemand::field& field, uint32_t expected, uint32_t& child);
  bool check_record_required();
  bool check_struct_required(uint32_t node, uint32_t block, int depth);
  bool validate_ignored(JsonValue value, int depth);
  bool read_value(uint32_t node, JsonValue value, uint32_t slot, int depth);
  bool read_struct(uint32_t node, JsonValue& value, uint32_t slot, int depth);
  bool read_array(uint32_t node, JsonValue& value, uint32_t slot, int depth);
  bool read_map(uint32_t node, JsonValue& value, uint32_t slot, int depth);
  bool check_map_keys(uint32_t slot, int depth);
  bool duplicate_key(std::string_view key, int depth);

  // record_parser_values.cc
  bool read_scalar(uint32_t node, JsonValue& value, JsonType type, uint32_t slot, int depth);
  bool read_string(int depth, JsonValue& value, std::string_view& text);
  bool read_int64(uint32_t node, int depth, JsonValue& value, int64_t& number);
  bool read_integer(uint32_t node, int depth, JsonValue& value, JsonType type, int64_t min, int64_t max, Slot& slot);
  bool read_string_column(int depth, JsonValue& value, JsonType type, Slot& slot);
  bool read_floating(uint32_t node, int depth, JsonValue& value, JsonType type, Slot& slot);
  bool read_timestamp(uint32_t node, int depth, JsonValue& value, JsonType type, Slot& slot);
  bool read_timestamp_ntz(uint32_t node, int depth, JsonValue& value, JsonType type, Slot& slot);
  bool read_decimal(uint32_t node, int depth, JsonValue& value, JsonType type, Slot& slot);
  bool read_binary(uint32_t node, int depth, JsonValue& value, JsonType type, Slot& slot);
  bool wrong_type(uint32_t node, int depth, JsonType got, std::string_view detail = {});
  bool malformed_value(int depth, std::string_view token, simdjson::error_code error);
  std::string type_text(uint32_t node) const;

  FieldTree tree_;
  size_t partition_column_;
  size_t max_string_bytes_;
  size_t max_values_;
  std::vector<size_t> required_;  // top-level: the partition column and NOT NULL columns
  std::vector<Slot> tape_;
  std::vector<PathStep> path_;       // sized once: kMaxSchemaDepth + 1 steps
  std::vector<uint32_t> key_table_;  // check_map_keys' hash table, reused
  std::string reason_;

  simdjson::ondemand::parser parser_;
  std::unique_ptr<char[]> buffer_;   // padded copy of the current payload
  size_t buffer_capacity_ = 0;       // bytes allocated, padding included
  size_t length_ = 0;                // bytes of the current payload
  std::unique_ptr<char[]> scratch_;  // decoded BINARY values of the current record
  size_t scratch_used_ = 0;          // bytes of scratch_ holding this record's values
};

}  // namespace kpipe
