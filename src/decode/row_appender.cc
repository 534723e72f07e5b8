#include "decode/row_appender.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <arrow/builder.h>
#include <arrow/type.h>
#include <arrow/util/decimal.h>

namespace kpipe {
namespace {

// Upper bounds for the capacity carried from one batch to the next.
constexpr int64_t kMaxReservedValues = 1 << 20;
constexpr int64_t kMaxReservedDataBytes = 64 << 20;
constexpr int64_t kMinReservedDataBytes = 32 * 1024;

arrow::Type::type expected_type_id(ColumnType type) {
  switch (type) {
    case ColumnType::kString: return arrow::Type::STRING;
    case ColumnType::kInt64: return arrow::Type::INT64;
    case ColumnType::kInt32: return arrow::Type::INT32;
    case ColumnType::kInt16: return arrow::Type::INT16;
    case ColumnType::kInt8: return arrow::Type::INT8;
    case ColumnType::kDouble: return arrow::Type::DOUBLE;
    case ColumnType::kFloat: return arrow::Type::FLOAT;
    case ColumnType::kBoolean: return arrow::Type::BOOL;
    case ColumnType::kTimestamp:
    case ColumnType::kTimestampNtz: return arrow::Type::TIMESTAMP;
    case ColumnType::kDate: return arrow::Type::DATE32;
    case ColumnType::kDecimal: return arrow::Type::DECIMAL128;
    case ColumnType::kBinary: return arrow::Type::BINARY;
    case ColumnType::kStruct: return arrow::Type::STRUCT;
    case ColumnType::kArray: return arrow::Type::LIST;
    case ColumnType::kMap: return arrow::Type::MAP;
  }
  return arrow::Type::NA;
}

bool has_data_buffer(ColumnType type) { return type == ColumnType::kString || type == ColumnType::kBinary; }

// STRING and BINARY builders share their data accessors through BinaryBuilder (utf8 is binary).
arrow::BinaryBuilder* binary_builder(arrow::ArrayBuilder* builder) {
  return static_cast<arrow::BinaryBuilder*>(builder);
}

}  // namespace

RowAppender::RowAppender(const FieldTree& tree, const arrow::Schema& schema, arrow::MemoryPool* pool)
    : tree_(tree), builders_(tree.size(), nullptr), last_length_(tree.size(), 0), last_data_bytes_(tree.size(), 0) {
  const FieldNode& record = tree.node(FieldTree::kRecord);
  if (static_cast<uint32_t>(schema.num_fields()) != record.child_count) {
    throw std::invalid_argument("RecordDecoder: schema.arrow_schema does not match the columns");
  }
  for (uint32_t i = 0; i < record.child_count; ++i) {
    std::unique_ptr<arrow::ArrayBuilder> builder;
    const arrow::Status st = arrow::MakeBuilder(pool, schema.field(static_cast<int>(i))->type(), &builder);
    if (!st.ok())
      throw std::invalid_argument("RecordDecoder: cannot build column '" + tree.node(record.first_child + i).name +
                                  "': " + st.ToString());
    bind(record.first_child + i, builder.get());
    columns_.push_back(std::move(builder));
  }
}

// Records the builder of `node` and, recursively, of its children, checking that Arrow's nested
// builders have the shape of the tree (the appends below cast without checking).
void RowAppender::bind(uint32_t node, arrow::ArrayBuilder* builder) {
  const FieldNode& field = tree_.node(node);
  if (builder->type()->id() != expected_type_id(field.type)) {
    throw std::invalid_argument("RecordDecoder: schema.arrow_schema does not match field '" + field.name + "'");
  }
  builders_[node] = builder;
  switch (field.type) {
    case ColumnType::kStruct: {
      auto* parent = static_cast<arrow::StructBuilder*>(builder);
      if (static_cast<uint32_t>(parent->num_fields()) != field.child_count) {
        throw std::invalid_argument("RecordDecoder: schema.arrow_schema does not match field '" + field.name + "'");
      }
      for (uint32_t i = 0; i < field.child_count; ++i)
        bind(field.first_child + i, parent->field_builder(static_cast<int>(i)));
      break;
    }
    case ColumnType::kArray: bind(field.first_child, static_cast<arrow::ListBuilder*>(builder)->value_builder()); break;
    case ColumnType::kMap: {
      auto* map = static_cast<arrow::MapBuilder*>(builder);
      bind(field.first_child, map->key_builder());
      bind(field.first_child + 1, map->item_builder());
      break;
    }
    default: break;
  }
}

arrow::Status RowAppender::append(uint32_t node, const std::vector<Slot>& tape, uint32_t slot_index) {
  const Slot& slot = tape[slot_index];
  arrow::ArrayBuilder* builder = builders_[node];
  if (slot.state != SlotState::kValue) return builder->AppendNull();
  switch (tree_.node(node).type) {
    case ColumnType::kString: return static_cast<arrow::StringBuilder*>(builder)->Append(slot.string_value);
    case ColumnType::kBinary: return binary_builder(builder)->Append(slot.string_value);
    case ColumnType::kInt64: return static_cast<arrow::Int64Builder*>(builder)->Append(slot.int_value);
    case ColumnType::kInt32:
      return static_cast<arrow::Int32Builder*>(builder)->Append(static_cast<int32_t>(slot.int_value));
    case ColumnType::kInt16:
      return static_cast<arrow::Int16Builder*>(builder)->Append(static_cast<int16_t>(slot.int_value));
    case ColumnType::kInt8:
      return static_cast<arrow::Int8Builder*>(builder)->Append(static_cast<int8_t>(slot.int_value));
    case ColumnType::kDouble: return static_cast<arrow::DoubleBuilder*>(builder)->Append(slot.double_value);
    case ColumnType::kFloat:
      return static_cast<arrow::FloatBuilder*>(builder)->Append(static_cast<float>(slot.double_value));
    case ColumnType::kBoolean: return static_cast<arrow::BooleanBuilder*>(builder)->Append(slot.int_value != 0);
    case ColumnType::kTimestamp:
    case ColumnType::kTimestampNtz: return static_cast<arrow::TimestampBuilder*>(builder)->Append(slot.int_value);
    case ColumnType::kDate:
      return static_cast<arrow::Date32Builder*>(builder)->Append(static_cast<int32_t>(slot.int_value));
    case ColumnType::kDecimal:
      return static_cast<arrow::Decimal128Builder*>(builder)->Append(
          arrow::Decimal128(slot.decimal_high, static_cast<uint64_t>(slot.int_value)));
    case ColumnType::kStruct: return append_struct(node, tape, slot);
    case ColumnType::kArray: return append_list(node, tape, slot);
    case ColumnType::kMap: return append_map(node, tape, slot);
  }
  return arrow::Status::NotImplemented("column type");
}

arrow::Status RowAppender::append_struct(uint32_t node, const std::vector<Slot>& tape, const Slot& slot) {
  const FieldNode& field = tree_.node(node);
  ARROW_RETURN_NOT_OK(static_cast<arrow::StructBuilder*>(builders_[node])->Append());
  for (uint32_t i = 0; i < field.child_count; ++i) {
    ARROW_RETURN_NOT_OK(append(field.first_child + i, tape, slot.first + i));
  }
  return arrow::Status::OK();
}

arrow::Status RowAppender::append_list(uint32_t node, const std::vector<Slot>& tape, const Slot& slot) {
  ARROW_RETURN_NOT_OK(static_cast<arrow::ListBuilder*>(builders_[node])->Append());
  const uint32_t element = tree_.node(node).first_child;
  uint32_t index = slot.first;
  for (uint32_t i = 0; i < slot.count; ++i, index = tape[index].next) {
    ARROW_RETURN_NOT_OK(append(element, tape, index));
  }
  return arrow::Status::OK();
}

arrow::Status RowAppender::append_map(uint32_t node, const std::vector<Slot>& tape, const Slot& slot) {
  auto* map = static_cast<arrow::MapBuilder*>(builders_[node]);
  ARROW_RETURN_NOT_OK(map->Append());
  const uint32_t value_node = tree_.node(node).first_child + 1;
  auto* keys = static_cast<arrow::StringBuilder*>(map->key_builder());
  uint32_t index = slot.first;
  for (uint32_t i = 0; i < slot.count; ++i, index = tape[index].next) {
    ARROW_RETURN_NOT_OK(keys->Append(tape[index].string_value));
    ARROW_RETURN_NOT_OK(append(value_node, tape, index + 1));
  }
  return arrow::Status::OK();
}

size_t RowAppender::buffered_bytes() const {
  size_t bytes = 0;
  for (uint32_t node = 1; node < builders_.size(); ++node) {
    const auto length = static_cast<size_t>(builders_[node]->length());
    switch (tree_.node(node).type) {
      case ColumnType::kString:
      case ColumnType::kBinary:
        bytes += length * sizeof(int32_t) + static_cast<size_t>(binary_builder(builders_[node])->value_data_length());
        break;
      case ColumnType::kDecimal: bytes += length * 16; break;
      case ColumnType::kStruct: bytes += length / 8 + 1; break;
      case ColumnType::kArray:
      case ColumnType::kMap: bytes += length * sizeof(int32_t); break;
      default: bytes += length * 8; break;
    }
  }
  return bytes;
}

arrow::Status RowAppender::finish(arrow::ArrayVector& arrays) {
  for (uint32_t node = 1; node < builders_.size(); ++node) {
    last_length_[node] = builders_[node]->length();
    if (has_data_buffer(tree_.node(node).type)) {
      last_data_bytes_[node] = binary_builder(builders_[node])->value_data_length();
    }
  }
  arrays.assign(columns_.size(), nullptr);
  for (size_t i = 0; i < columns_.size(); ++i) {
    const arrow::Status st = columns_[i]->Finish(&arrays[i]);
    if (!st.ok()) {
      return arrow::Status(st.code(),
                           "finishing column '" + tree_.node(static_cast<uint32_t>(i) + 1).name + "': " + st.message());
    }
  }
  return arrow::Status::OK();
}

void RowAppender::reset() {
  for (auto& column : columns_) column->Reset();
}

// Arrow's Finish() hands the buffers to the arrays, so capacity cannot be kept as such; the last
// batch's sizes (bounded) are the best guess for the next one and save the doubling copies. Every
// node is reserved, nested ones too: a list's elements are many more than the rows.
arrow::Status RowAppender::reserve(int64_t min_rows) {
  const FieldNode& record = tree_.node(FieldTree::kRecord);
  for (uint32_t node = 1; node < builders_.size(); ++node) {
    // Nested builders get only what they used: a floor for each would add up in a wide schema,
    // times one decoder per partition.
    const bool top_level = node < record.first_child + record.child_count;
    const int64_t values = std::clamp<int64_t>(last_length_[node], top_level ? min_rows : 0, kMaxReservedValues);
    ARROW_RETURN_NOT_OK(builders_[node]->Reserve(values));
    if (tree_.node(node).type == ColumnType::kMap) {
      // The map's struct of entries, which MapBuilder grows as keys and items arrive.
      const int64_t entries = std::clamp<int64_t>(last_length_[tree_.node(node).first_child], 0, kMaxReservedValues);
      ARROW_RETURN_NOT_OK(static_cast<arrow::MapBuilder*>(builders_[node])->value_builder()->Reserve(entries));
    }
    if (has_data_buffer(tree_.node(node).type)) {
      ARROW_RETURN_NOT_OK(
          binary_builder(builders_[node])
              ->ReserveData(std::clamp<int64_t>(last_data_bytes_[node], top_level ? kMinReservedDataBytes : 0,
                                                kMaxReservedDataBytes)));
    }
  }
  return arrow::Status::OK();
}

}  // namespace kpipe
