#include "decode/record_parser.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>

#include "decode/json_text.h"

namespace kpipe {

namespace od = simdjson::ondemand;
using json_text::document_error;
using json_text::quoted;
using json_text::trim_right;

namespace {

// The parser and the padded copy start this large (the seed's events are 115 bytes) and grow
// geometrically for larger ones. The engine keeps a decoder per partition: at 64 KiB each
// decoder's parser took 380 KiB, 36 MB for 96 partitions (heaptrack).
constexpr size_t kInitialCapacity = 4 * 1024;
// Deepest nesting accepted inside an ignored field. It keeps the document's depth under the
// parser's max_depth (1024), which On-Demand asserts in debug builds and never checks in release.
constexpr int kMaxNestingDepth = 1000;
// Maps with more entries than this check their keys for duplicates with a hash table.
constexpr uint32_t kLinearKeyCheck = 8;
constexpr uint32_t kNoEntry = std::numeric_limits<uint32_t>::max();

bool is_plain_identifier(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

// A map key in a path: JSON-quoted, control characters escaped, long keys cut.
void append_key(std::string& out, std::string_view key) {
  out += "[\"";
  size_t cut = std::min(key.size(), json_text::kMaxQuotedBytes);
  while (cut < key.size() && cut > 0 && (static_cast<unsigned char>(key[cut]) & 0xC0) == 0x80) --cut;
  for (char c : key.substr(0, cut)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[(c >> 4) & 0xF];
      out += kHex[c & 0xF];
    } else {
      out += c;
    }
  }
  if (cut < key.size()) out += "...";
  out += "\"]";
}

}  // namespace

RecordParser::RecordParser(const std::vector<ColumnSpec>& columns, size_t partition_column, size_t max_string_bytes,
                           size_t max_values)
    : tree_(columns),
      partition_column_(partition_column),
      max_string_bytes_(max_string_bytes),
      max_values_(std::max<size_t>(max_values, columns.size())) {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].kafka != KafkaField::kNone) continue;  // not in the JSON: RecordDecoder fills it
    if (i == partition_column_ || !columns[i].nullable) required_.push_back(i);
  }
  path_.resize(tree_.size() + 1);  // no path is longer than the tree is deep
  tape_.reserve(columns.size());
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
  // BINARY values decode to at most 3/4 of their text, and a DECIMAL string without its commas
  // is shorter than its text: all of one record's fit in its length.
  scratch_.reset(new char[buffer_capacity_]);
  // On failure the parser keeps its old size and iterate() reports MEMALLOC for the record that
  // needs more, which then becomes a bad record: nothing to handle here.
  const simdjson::error_code ignored = parser_.allocate(capacity);
  (void)ignored;
}

bool RecordParser::fail(std::string reason) {
  reason_ = std::move(reason);
  return false;
}

// "user.tags[1]", "items[0].price", "attrs[\"k\"]": built only for a reason, never on a good record.
std::string RecordParser::path_text(int depth) const {
  std::string out;
  for (int i = 0; i < depth; ++i) {
    const PathStep& step = path_[static_cast<size_t>(i)];
    switch (step.kind) {
      case PathStep::kField: {
        const std::string& name = tree_.node(step.node_or_index).name;
        if (i > 0) out += '.';
        // Top-level names are shown as written (as reasons always did); nested ones that a '.' or
        // '[' would make ambiguous are back-quoted as Spark quotes them.
        if (i == 0 || is_plain_identifier(name)) {
          out += name;
        } else {
          out += '`' + name + '`';
        }
        break;
      }
      case PathStep::kElement: out += '[' + std::to_string(step.node_or_index) + ']'; break;
      case PathStep::kMapValue: append_key(out, step.key); break;
    }
  }
  return out;
}

std::string RecordParser::field_prefix(int depth) const { return "field '" + path_text(depth) + "': "; }

bool RecordParser::allocate(uint32_t count, uint32_t& first, int depth) {
  if (tape_.size() + count > max_values_) {
    return fail(field_prefix(depth) + "the record holds more than " + std::to_string(max_values_) +
                " values (every field of a STRUCT counts, present or not; the limit is one value per byte of "
                "MAX_RECORD_BYTES, at least 65536)");
  }
  first = static_cast<uint32_t>(tape_.size());
  tape_.resize(tape_.size() + count);
  return true;
}

bool RecordParser::parse(std::string_view payload) {
  if (payload.size() + simdjson::SIMDJSON_PADDING > buffer_capacity_) grow_buffer(payload.size());
  std::memcpy(buffer_.get(), payload.data(), payload.size());
  length_ = payload.size();
  scratch_used_ = 0;
  tape_.clear();
  tape_.resize(tree_.node(FieldTree::kRecord).child_count);
  od::document doc;
  simdjson::error_code error = parser_.iterate(buffer_.get(), length_, buffer_capacity_).get(doc);
  if (error) return fail(document_error(error));
  od::json_type root_type;
  if ((error = doc.type().get(root_type))) return fail(document_error(error));
  if (root_type != od::json_type::object) return fail(not_an_object(doc, root_type));
  od::object object;
  if ((error = doc.get_object().get(object))) return fail(document_error(error));
  if (!read_fields(FieldTree::kRecord, object, 0, 0)) return false;

  // On-Demand stops at the object's closing brace; anything but whitespace after it is an error.
  const char* trailing = nullptr;
  if (doc.current_location().get(trailing) == simdjson::SUCCESS) {
    const std::string_view rest(trailing, length_ - static_cast<size_t>(trailing - buffer_.get()));
    return fail("malformed JSON: unexpected " + quoted(trim_right(rest)) + " after the object");
  }
  return check_record_required();
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
      if (!error) error = json_text::read_double(doc, trim_right(token), number);
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
  return "not a JSON object (got " + std::string(json_text::type_name(type)) + ")";
}

// The fields of STRUCT `node` (the record itself at depth 0) into tape_[block ...]: one slot per
// field, in schema order, whatever order the keys come in.
bool RecordParser::read_fields(uint32_t node, od::object& object, uint32_t block, int depth) {
  const FieldNode& parent = tree_.node(node);
  uint32_t expected = 0;  // producers usually write fields in schema order: try that one first
  simdjson::error_code error;
  for (auto field_result : object) {
    od::field field;
    if ((error = std::move(field_result).get(field))) return fail(document_error(error));
    uint32_t child = 0;
    switch (match_key(node, field, expected, child)) {
      case KeyMatch::kError: return false;
      case KeyMatch::kIgnored:
        if (!validate_ignored(field.value(), depth + 1)) return false;
        continue;
      case KeyMatch::kField: break;
    }
    expected = child + 1;
    const uint32_t child_node = parent.first_child + child;
    path_[static_cast<size_t>(depth)] = PathStep{PathStep::kField, child_node, {}};
    if (tape_[block + child].state != SlotState::kMissing) {
      return fail("field '" + path_text(depth + 1) + "' appears more than once");
    }
    if (!read_value(child_node, field.value(), block + child, depth + 1)) return false;
  }
  return true;
}

RecordParser::KeyMatch RecordParser::match_key(uint32_t node, od::field& field, uint32_t expected, uint32_t& child) {
  const FieldNode& parent = tree_.node(node);
  const od::raw_json_string raw = field.key();
  if (expected < parent.child_count) {
    const FieldNode& candidate = tree_.node(parent.first_child + expected);
    if (candidate.plain_name && raw.unsafe_is_equal(candidate.name)) {
      child = expected;
      return candidate.kafka == KafkaField::kNone ? KeyMatch::kField : KeyMatch::kIgnored;
    }
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
  const int64_t found = tree_.find_field(node, key);
  if (found < 0) return KeyMatch::kIgnored;
  child = static_cast<uint32_t>(found);
  // A Kafka column (KAFKA_COLUMNS) takes its value from the Kafka record: a JSON key of the same
  // name is an unknown field.
  return tree_.node(parent.first_child + child).kafka == KafkaField::kNone ? KeyMatch::kField : KeyMatch::kIgnored;
}

bool RecordParser::check_record_required() {
  const FieldNode& record = tree_.node(FieldTree::kRecord);
  for (size_t column : required_) {
    const SlotState state = tape_[column].state;
    if (state == SlotState::kValue) continue;
    const std::string& name = tree_.node(record.first_child + static_cast<uint32_t>(column)).name;
    const char* what = state == SlotState::kNull ? " (null)" : "";
    if (column == partition_column_) return fail("missing partition column '" + name + "'" + what);
    return fail("field '" + name + "' is NOT NULL but " + (state == SlotState::kNull ? "null" : "missing"));
  }
  return true;
}

bool RecordParser::check_struct_required(uint32_t node, uint32_t block, int depth) {
  const FieldNode& parent = tree_.node(node);
  for (uint32_t i = 0; i < parent.child_count; ++i) {
    const SlotState state = tape_[block + i].state;
    if (state == SlotState::kValue || tree_.node(parent.first_child + i).nullable) continue;
    path_[static_cast<size_t>(depth)] = PathStep{PathStep::kField, parent.first_child + i, {}};
    return fail("field '" + path_text(depth + 1) + "' is NOT NULL but " +
                (state == SlotState::kNull ? "null" : "missing"));
  }
  return true;
}

// On-Demand only checks what it is asked to read, so an ignored field is walked fully: a
// message with `"extra": tru` is malformed JSON and must not pass as a good row. On-Demand does
// not enforce a nesting limit either; without ours, 100k '[' in a 1 MB message overflow the
// stack. `depth` is the JSON nesting depth of `value`.
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
      error = json_text::read_double(value, trim_right(value.raw_json_token()), number);
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

// A value of any type into tape_[slot]; path_[0 .. depth) names it.
bool RecordParser::read_value(uint32_t node, od::value value, uint32_t slot, int depth) {
  od::json_type type;
  simdjson::error_code error = value.type().get(type);
  if (error) return fail(document_error(error));
  if (type == od::json_type::null) {
    bool is_null = false;
    if ((error = value.is_null().get(is_null)) || !is_null) {
      return malformed_value(depth, value.raw_json_token(), error ? error : simdjson::INCORRECT_TYPE);
    }
    tape_[slot].state = SlotState::kNull;
    return true;
  }
  switch (tree_.node(node).type) {
    case ColumnType::kStruct:
      if (type != od::json_type::object) return wrong_type(node, depth, type);
      return read_struct(node, value, slot, depth);
    case ColumnType::kArray:
      if (type != od::json_type::array) return wrong_type(node, depth, type);
      return read_array(node, value, slot, depth);
    case ColumnType::kMap:
      if (type != od::json_type::object) return wrong_type(node, depth, type);
      return read_map(node, value, slot, depth);
    default: return read_scalar(node, value, type, slot, depth);
  }
}

bool RecordParser::read_struct(uint32_t node, od::value& value, uint32_t slot, int depth) {
  od::object object;
  if (simdjson::error_code error = value.get_object().get(object)) return fail(document_error(error));
  uint32_t block = 0;
  if (!allocate(tree_.node(node).child_count, block, depth)) return false;
  tape_[slot].first = block;
  if (!read_fields(node, object, block, depth)) return false;
  if (tree_.node(node).has_required && !check_struct_required(node, block, depth)) return false;
  tape_[slot].state = SlotState::kValue;
  return true;
}

bool RecordParser::read_array(uint32_t node, od::value& value, uint32_t slot, int depth) {
  od::array array;
  simdjson::error_code error = value.get_array().get(array);
  if (error) return fail(document_error(error));
  const uint32_t element_node = tree_.node(node).first_child;
  const bool element_nullable = tree_.node(element_node).nullable;
  uint32_t count = 0;
  uint32_t previous = 0;
  for (auto element_result : array) {
    od::value element;
    if ((error = std::move(element_result).get(element))) return fail(document_error(error));
    uint32_t index = 0;
    if (!allocate(1, index, depth)) return false;
    if (count == 0) {
      tape_[slot].first = index;
    } else {
      tape_[previous].next = index;
    }
    path_[static_cast<size_t>(depth)] = PathStep{PathStep::kElement, count, {}};
    if (!read_value(element_node, element, index, depth + 1)) return false;
    if (!element_nullable && tape_[index].state != SlotState::kValue) {
      return fail("field '" + path_text(depth + 1) + "' is NOT NULL but null");
    }
    previous = index;
    ++count;
  }
  tape_[slot].count = count;
  tape_[slot].state = SlotState::kValue;
  return true;
}

bool RecordParser::read_map(uint32_t node, od::value& value, uint32_t slot, int depth) {
  od::object object;
  simdjson::error_code error = value.get_object().get(object);
  if (error) return fail(document_error(error));
  const uint32_t value_node = tree_.node(node).first_child + 1;
  const bool value_nullable = tree_.node(value_node).nullable;
  uint32_t count = 0;
  uint32_t previous = 0;
  for (auto field_result : object) {
    od::field field;
    std::string_view key;
    if ((error = std::move(field_result).get(field)) || (error = field.unescaped_key().get(key))) {
      return fail(document_error(error));
    }
    path_[static_cast<size_t>(depth)] = PathStep{PathStep::kMapValue, 0, key};
    if (key.size() > max_string_bytes_) {
      return fail(field_prefix(depth + 1) + "map key is " + std::to_string(key.size()) +
                  " bytes, over MAX_STRING_BYTES=" + std::to_string(max_string_bytes_));
    }
    uint32_t index = 0;
    if (!allocate(2, index, depth)) return false;
    if (count == 0) {
      tape_[slot].first = index;
    } else {
      tape_[previous].next = index;
    }
    tape_[index].state = SlotState::kValue;
    tape_[index].string_value = key;
    if (!read_value(value_node, field.value(), index + 1, depth + 1)) return false;
    if (!value_nullable && tape_[index + 1].state != SlotState::kValue) {
      return fail("field '" + path_text(depth + 1) + "' is NOT NULL but null");
    }
    previous = index;
    ++count;
  }
  tape_[slot].count = count;
  tape_[slot].state = SlotState::kValue;
  return check_map_keys(slot, depth);
}

// A key twice in one map is a bad record, as a field twice in one object is: Spark's from_json
// keeps the last value, which silently drops the others. Checked once the map is whole, so a map
// nested in a value cannot disturb the table of the map around it.
bool RecordParser::check_map_keys(uint32_t slot, int depth) {
  const uint32_t count = tape_[slot].count;
  if (count < 2) return true;
  if (count <= kLinearKeyCheck) {
    for (uint32_t a = tape_[slot].first, i = 0; i < count; a = tape_[a].next, ++i) {
      for (uint32_t b = tape_[a].next, j = i + 1; j < count; b = tape_[b].next, ++j) {
        if (tape_[a].string_value == tape_[b].string_value) return duplicate_key(tape_[b].string_value, depth);
      }
    }
    return true;
  }
  size_t size = 16;
  while (size < 2 * static_cast<size_t>(count)) size *= 2;
  key_table_.assign(size, kNoEntry);  // keeps its capacity: no allocation once grown
  const std::hash<std::string_view> hash;
  for (uint32_t a = tape_[slot].first, i = 0; i < count; a = tape_[a].next, ++i) {
    const std::string_view key = tape_[a].string_value;
    for (size_t h = hash(key) & (size - 1);; h = (h + 1) & (size - 1)) {
      if (key_table_[h] == kNoEntry) {
        key_table_[h] = a;
        break;
      }
      if (tape_[key_table_[h]].string_value == key) return duplicate_key(key, depth);
    }
  }
  return true;
}

bool RecordParser::duplicate_key(std::string_view key, int depth) {
  path_[static_cast<size_t>(depth)] = PathStep{PathStep::kMapValue, 0, key};
  return fail("field '" + path_text(depth + 1) + "' appears more than once (a duplicate map key)");
}

}  // namespace kpipe
