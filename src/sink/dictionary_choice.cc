#include "sink/dictionary_choice.h"

#include <arrow/array.h>
#include <arrow/type.h>

#include <algorithm>
#include <bit>
#include <functional>
#include <string_view>

namespace kpipe {
namespace {

// The bytes of value i of a column, as Parquet's plain encoding stores them less the length
// prefix; empty for a null. Only for the types sample_type() accepts.
std::string_view value_bytes(const arrow::Array& column, int64_t i, int byte_width) {
  switch (column.type_id()) {
    case arrow::Type::STRING:
    case arrow::Type::BINARY: return static_cast<const arrow::BinaryArray&>(column).GetView(i);
    case arrow::Type::LARGE_STRING:
    case arrow::Type::LARGE_BINARY: return static_cast<const arrow::LargeBinaryArray&>(column).GetView(i);
    default: {
      const uint8_t* values = column.data()->GetValues<uint8_t>(1, 0);
      return {reinterpret_cast<const char*>(values) + (column.offset() + i) * byte_width,
              static_cast<size_t>(byte_width)};
    }
  }
}

// The byte width of a fixed-width column to sample, 0 for a byte-array column, -1 for a column
// left alone.
int sample_type(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::STRING:
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_STRING:
    case arrow::Type::LARGE_BINARY: return 0;
    case arrow::Type::BOOL: return -1;
    default: break;
  }
  const auto* fixed = dynamic_cast<const arrow::FixedWidthType*>(&type);
  if (fixed == nullptr || arrow::is_nested(type.id()) || type.id() == arrow::Type::DICTIONARY) return -1;
  const int bits = fixed->bit_width();
  return bits >= 8 && bits % 8 == 0 ? bits / 8 : -1;
}

// Whether the sample of `column` is no smaller dictionary-encoded than plain.
bool dictionary_does_not_pay(const arrow::Array& column, int byte_width) {
  // Open addressing over the sample's distinct values; 2 × the sample keeps probes short. A small
  // file (a backfill writes a file per day) samples fewer values: fewer slots to clear.
  const size_t n_slots = 2 * static_cast<size_t>(std::min<int64_t>(column.length(), kDictionarySampleValues));
  std::vector<std::string_view> slots(n_slots);
  std::vector<bool> used(n_slots, false);
  const int64_t prefix = byte_width == 0 ? 4 : 0;
  int64_t sampled = 0, distinct = 0, plain_bytes = 0, dictionary_bytes = 0;
  for (int64_t i = 0; i < column.length() && sampled < kDictionarySampleValues; ++i) {
    if (column.IsNull(i)) continue;
    const std::string_view v = value_bytes(column, i, byte_width);
    ++sampled;
    plain_bytes += prefix + static_cast<int64_t>(v.size());
    for (size_t s = std::hash<std::string_view>{}(v) % n_slots;; s = (s + 1) % n_slots) {
      if (!used[s]) {
        used[s] = true;
        slots[s] = v;
        ++distinct;
        dictionary_bytes += prefix + static_cast<int64_t>(v.size());
        break;
      }
      if (slots[s] == v) break;
    }
  }
  if (sampled == 0) return false;
  const int64_t index_bits = distinct <= 1 ? 1 : std::bit_width(static_cast<uint64_t>(distinct - 1));
  dictionary_bytes += (sampled * index_bits + 7) / 8;
  return dictionary_bytes >= plain_bytes;
}

}  // namespace

std::vector<std::string> columns_without_dictionary(const arrow::RecordBatch& rows) {
  std::vector<std::string> plain;
  for (int c = 0; c < rows.num_columns(); ++c) {
    const arrow::Array& column = *rows.column(c);
    const int byte_width = sample_type(*column.type());
    if (byte_width < 0) continue;
    if (dictionary_does_not_pay(column, byte_width)) plain.push_back(rows.schema()->field(c)->name());
  }
  return plain;
}

}  // namespace kpipe
