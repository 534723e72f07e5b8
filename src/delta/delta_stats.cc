#include "delta/delta_stats.h"

#include <arrow/buffer.h>
#include <arrow/io/memory.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/schema.h>
#include <parquet/statistics.h>
#include <parquet/types.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "common/time_format.h"
#include "sink/value_text.h"

namespace kpipe {
namespace {

// Spark's spark.databricks.delta.stats.skipping.stringPrefixLength default.
constexpr size_t kStringPrefixCodePoints = 32;
// U+FFFD in UTF-8: the tie-breaker Delta appends to a cut string max.
constexpr std::string_view kTieBreaker = "\xEF\xBF\xBD";

enum class StatKind {
  kNullCountOnly,  // boolean, binary, unsigned, decimal, ...: Delta keeps no min/max
  kInt,
  kFloat,
  kDouble,
  kDate,
  kTimestamp,     // UTC; `micros_per_unit` / `units_per_micro` convert the unit to microseconds
  kTimestampNtz,  // TIMESTAMP_NTZ (isAdjustedToUTC=false): the same, its text without the 'Z'
  kString,
  kDecimal,  // INT32, INT64 or FIXED_LEN_BYTE_ARRAY, unscaled; written as an exact JSON number
};

struct ColumnStats {
  std::string name;
  // A leaf inside a list or map (Parquet repetition level > 0) gets no stats: its footer null
  // count counts elements, not rows, and Delta keeps no min/max for arrays or maps.
  bool in_list = false;
  StatKind kind = StatKind::kNullCountOnly;
  int32_t scale = 0;            // kDecimal
  int64_t units_per_micro = 1;  // 1000 for NANOS
  int64_t micros_per_unit = 1;  // 1000 for MILLIS
  bool null_count_known = true;
  int64_t null_count = 0;
  bool min_max_known = true;  // false once a chunk with values has no min/max
  bool has_min_max = false;
  int64_t min_int = 0, max_int = 0;
  __int128 min_decimal = 0, max_decimal = 0;
  double min_double = 0, max_double = 0;
  std::string min_string, max_string;
};

StatKind kind_of(const parquet::ColumnDescriptor& column, ColumnStats& stats) {
  const parquet::LogicalType& logical = *column.logical_type();
  if (logical.is_decimal()) {
    // Spark's Delta writer keeps min/max for every NumericType, DecimalType included.
    stats.scale = static_cast<const parquet::DecimalLogicalType&>(logical).scale();
    const auto physical = column.physical_type();
    const bool fits = physical == parquet::Type::INT32 || physical == parquet::Type::INT64 ||
                      (physical == parquet::Type::FIXED_LEN_BYTE_ARRAY && column.type_length() <= 16);
    return fits ? StatKind::kDecimal : StatKind::kNullCountOnly;
  }
  switch (column.physical_type()) {
    case parquet::Type::INT32:
    case parquet::Type::INT64: {
      if (logical.is_none()) return StatKind::kInt;
      if (logical.is_int()) {
        return static_cast<const parquet::IntLogicalType&>(logical).is_signed() ? StatKind::kInt
                                                                                : StatKind::kNullCountOnly;
      }
      if (logical.is_date() && column.physical_type() == parquet::Type::INT32) return StatKind::kDate;
      if (logical.is_timestamp() && column.physical_type() == parquet::Type::INT64) {
        const auto& ts = static_cast<const parquet::TimestampLogicalType&>(logical);
        switch (ts.time_unit()) {
          case parquet::LogicalType::TimeUnit::MILLIS: stats.micros_per_unit = 1000; break;
          case parquet::LogicalType::TimeUnit::MICROS: break;
          case parquet::LogicalType::TimeUnit::NANOS: stats.units_per_micro = 1000; break;
          default: return StatKind::kNullCountOnly;
        }
        return ts.is_adjusted_to_utc() ? StatKind::kTimestamp : StatKind::kTimestampNtz;
      }
      return StatKind::kNullCountOnly;
    }
    case parquet::Type::FLOAT: return logical.is_none() ? StatKind::kFloat : StatKind::kNullCountOnly;
    case parquet::Type::DOUBLE: return logical.is_none() ? StatKind::kDouble : StatKind::kNullCountOnly;
    case parquet::Type::BYTE_ARRAY: return logical.is_string() ? StatKind::kString : StatKind::kNullCountOnly;
    default: return StatKind::kNullCountOnly;
  }
}

template <typename T>
void merge(T lo, T hi, bool first, T& min, T& max) {
  if (first || lo < min) min = lo;
  if (first || hi > max) max = hi;
}

// A big-endian two's complement integer of up to 16 bytes (Parquet's decimal on
// FIXED_LEN_BYTE_ARRAY), sign-extended.
__int128 from_big_endian(const uint8_t* bytes, int length) {
  unsigned __int128 v = (length > 0 && (bytes[0] & 0x80)) ? ~static_cast<unsigned __int128>(0) : 0;
  for (int i = 0; i < length; ++i) v = (v << 8) | bytes[i];
  return static_cast<__int128>(v);
}

void merge_decimal(const parquet::Statistics& chunk, ColumnStats& stats) {
  const bool first = !stats.has_min_max;
  switch (chunk.physical_type()) {
    case parquet::Type::INT32: {
      const auto& s = static_cast<const parquet::Int32Statistics&>(chunk);
      merge<__int128>(s.min(), s.max(), first, stats.min_decimal, stats.max_decimal);
      break;
    }
    case parquet::Type::INT64: {
      const auto& s = static_cast<const parquet::Int64Statistics&>(chunk);
      merge<__int128>(s.min(), s.max(), first, stats.min_decimal, stats.max_decimal);
      break;
    }
    case parquet::Type::FIXED_LEN_BYTE_ARRAY: {
      const auto& s = static_cast<const parquet::FLBAStatistics&>(chunk);
      const int length = s.descr()->type_length();
      merge<__int128>(from_big_endian(s.min().ptr, length), from_big_endian(s.max().ptr, length), first,
                      stats.min_decimal, stats.max_decimal);
      break;
    }
    default: return;
  }
  stats.has_min_max = true;
}

void merge_min_max(const parquet::Statistics& chunk, ColumnStats& stats) {
  if (stats.kind == StatKind::kDecimal) return merge_decimal(chunk, stats);
  const bool first = !stats.has_min_max;
  switch (chunk.physical_type()) {
    case parquet::Type::INT32: {
      const auto& s = static_cast<const parquet::Int32Statistics&>(chunk);
      merge<int64_t>(s.min(), s.max(), first, stats.min_int, stats.max_int);
      break;
    }
    case parquet::Type::INT64: {
      const auto& s = static_cast<const parquet::Int64Statistics&>(chunk);
      merge<int64_t>(s.min(), s.max(), first, stats.min_int, stats.max_int);
      break;
    }
    case parquet::Type::FLOAT: {
      const auto& s = static_cast<const parquet::FloatStatistics&>(chunk);
      merge<double>(s.min(), s.max(), first, stats.min_double, stats.max_double);
      break;
    }
    case parquet::Type::DOUBLE: {
      const auto& s = static_cast<const parquet::DoubleStatistics&>(chunk);
      merge<double>(s.min(), s.max(), first, stats.min_double, stats.max_double);
      break;
    }
    case parquet::Type::BYTE_ARRAY: {
      const auto& s = static_cast<const parquet::ByteArrayStatistics&>(chunk);
      // string_view compares bytes as unsigned char: the UTF-8 binary order Parquet and Spark use.
      const std::string_view lo(reinterpret_cast<const char*>(s.min().ptr), s.min().len);
      const std::string_view hi(reinterpret_cast<const char*>(s.max().ptr), s.max().len);
      if (first || lo < stats.min_string) stats.min_string.assign(lo);
      if (first || hi > stats.max_string) stats.max_string.assign(hi);
      break;
    }
    default: return;
  }
  stats.has_min_max = true;
}

void add_chunk(const parquet::ColumnChunkMetaData& chunk, int64_t rows, ColumnStats& stats) {
  if (rows == 0) return;
  const std::shared_ptr<parquet::Statistics> s = chunk.is_stats_set() ? chunk.statistics() : nullptr;
  if (!s) {
    stats.null_count_known = false;
    stats.min_max_known = false;
    return;
  }
  const bool nulls = s->HasNullCount();
  if (nulls) {
    stats.null_count += s->null_count();
  } else {
    stats.null_count_known = false;
  }
  if (stats.kind == StatKind::kNullCountOnly) return;
  if (s->HasMinMax()) {
    merge_min_max(*s, stats);
  } else if (!nulls || s->null_count() != rows) {
    // Values without a min/max (too long for the writer's limit, or all NaN): no bound is known.
    stats.min_max_known = false;
  }
}

// Length in bytes of the UTF-8 sequence that starts with `lead` (1 for a stray byte, so a
// malformed string still advances).
size_t utf8_length(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// Byte offset of the end of the first `n` code points of `s` (s.size() if it is shorter).
size_t prefix_end(std::string_view s, size_t n) {
  size_t at = 0;
  for (size_t i = 0; i < n && at < s.size(); ++i) at += utf8_length(static_cast<unsigned char>(s[at]));
  return std::min(at, s.size());
}

std::string truncated_min(const std::string& s) { return s.substr(0, prefix_end(s, kStringPrefixCodePoints)); }

// The cut max must stay >= the value: after the prefix, keep every code point that is not
// below the tie-breaker (U+FFFD itself, U+FFFE, U+FFFF and all 4-byte code points), then append
// U+FFFD, which is then greater than the rest of the value in UTF-8 byte order. Spark applies the
// same rule on UTF-16 units, where 4-byte code points (surrogates) count as smaller; in the byte
// order its comparisons use they are larger, so we keep them.
std::string truncated_max(const std::string& s) {
  size_t at = prefix_end(s, kStringPrefixCodePoints);
  while (at < s.size()) {
    const size_t len = std::min(utf8_length(static_cast<unsigned char>(s[at])), s.size() - at);
    if (std::string_view(s).substr(at, len) < kTieBreaker) break;
    at += len;
  }
  if (at == s.size()) return s;
  std::string out = s.substr(0, at);
  out += kTieBreaker;
  return out;
}

void write_float(JsonWriter& json, float v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form, "1.1" not "1.100000023841858"
  json.raw(std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

// Writes the min (`is_max` false) or max of `stats` as Delta's JSON value; false if it has none
// that JSON can hold.
bool write_bound(JsonWriter& json, const ColumnStats& stats, bool is_max) {
  const int64_t i = is_max ? stats.max_int : stats.min_int;
  const double d = is_max ? stats.max_double : stats.min_double;
  char text[kMaxTimeText];
  switch (stats.kind) {
    case StatKind::kInt: json.key(stats.name).value(i); return true;
    case StatKind::kFloat:
    case StatKind::kDouble:
      if (!std::isfinite(d)) return false;
      json.key(stats.name);
      if (stats.kind == StatKind::kFloat) {
        write_float(json, static_cast<float>(d));
      } else {
        json.value(d);
      }
      return true;
    case StatKind::kDate: json.key(stats.name).value(std::string_view(text, format_date(i, text) - text)); return true;
    case StatKind::kTimestamp:
    case StatKind::kTimestampNtz: {
      constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
      if (stats.micros_per_unit > 1 && (i > kMax / stats.micros_per_unit || i < -(kMax / stats.micros_per_unit))) {
        return false;
      }
      int64_t micros = i * stats.micros_per_unit;
      if (stats.units_per_micro > 1) {
        micros = is_max ? ceil_div(i, stats.units_per_micro) : floor_div(i, stats.units_per_micro);
      }
      if (is_max && floor_div(micros, 1000) * 1000 != micros) {
        if (micros > kMax - 1000) return false;
        micros = (floor_div(micros, 1000) + 1) * 1000;
      }
      const char* end = format_timestamp(micros, TimestampStyle::kIsoUtcMillis, text);
      // TIMESTAMP_NTZ as Spark's to_json writes it: the wall-clock text without a zone.
      if (stats.kind == StatKind::kTimestampNtz) --end;
      json.key(stats.name).value(std::string_view(text, static_cast<size_t>(end - text)));
      return true;
    }
    case StatKind::kDecimal: {
      // An exact JSON number with the column's scale (12.30), as Spark's Delta writer has it.
      const __int128 v = is_max ? stats.max_decimal : stats.min_decimal;
      uint8_t bytes[16];
      std::memcpy(bytes, &v, sizeof bytes);  // Arrow's Decimal128 layout: little-endian
      char digits[kMaxDecimalText];
      const char* end = format_decimal128(bytes, stats.scale, digits);
      json.key(stats.name).raw(std::string_view(digits, static_cast<size_t>(end - digits)));
      return true;
    }
    case StatKind::kString:
      json.key(stats.name).value(is_max ? truncated_max(stats.max_string) : truncated_min(stats.min_string));
      return true;
    case StatKind::kNullCountOnly: return false;
  }
  return false;
}

enum class Section { kMin, kMax, kNullCount };

// Writes the stats of `group`'s fields into the open object of `json`, nested as the schema is
// (PROTOCOL.md: "encoded, mirroring the schema of the actual data"): a struct is an object of
// its fields' stats, left out when none of them has one; lists and maps are left out whole.
void write_fields(const parquet::schema::GroupNode& group, const parquet::SchemaDescriptor& schema,
                  const std::vector<ColumnStats>& columns, Section section, JsonWriter& json) {
  for (int f = 0; f < group.field_count(); ++f) {
    const parquet::schema::Node& node = *group.field(f);
    if (node.is_repeated()) continue;  // a legacy 2-level list
    if (node.is_group()) {
      const auto& child = static_cast<const parquet::schema::GroupNode&>(node);
      const parquet::LogicalType& logical = *child.logical_type();
      const auto converted = child.converted_type();
      if (logical.is_list() || logical.is_map() || converted == parquet::ConvertedType::LIST ||
          converted == parquet::ConvertedType::MAP || converted == parquet::ConvertedType::MAP_KEY_VALUE) {
        continue;
      }
      JsonWriter inner;
      inner.begin_object();
      write_fields(child, schema, columns, section, inner);
      inner.end_object();
      if (inner.str() != "{}") json.key(node.name()).raw(inner.str());
      continue;
    }
    const ColumnStats& c = columns[static_cast<size_t>(schema.ColumnIndex(node))];
    if (c.in_list) continue;
    if (section == Section::kNullCount) {
      if (c.null_count_known) json.field(c.name, c.null_count);
    } else if (c.min_max_known && c.has_min_max) {
      write_bound(json, c, section == Section::kMax);
    }
  }
}

std::string to_json(int64_t rows, const parquet::SchemaDescriptor& schema, const std::vector<ColumnStats>& columns) {
  JsonWriter json;
  json.begin_object().field("numRecords", rows);
  for (const auto& [key, section] : {std::pair{"minValues", Section::kMin}, std::pair{"maxValues", Section::kMax},
                                     std::pair{"nullCount", Section::kNullCount}}) {
    json.key(key).begin_object();
    write_fields(*schema.group_node(), schema, columns, section, json);
    json.end_object();
  }
  json.end_object();
  return json.take();
}

std::string compute(const arrow::Buffer& parquet_file) {
  // A view, not a copy: the caller keeps the bytes for the duration of the call.
  auto view = std::make_shared<arrow::Buffer>(parquet_file.data(), parquet_file.size());
  const std::shared_ptr<parquet::FileMetaData> footer =
      parquet::ReadMetaData(std::make_shared<arrow::io::BufferReader>(std::move(view)));
  const parquet::SchemaDescriptor& schema = *footer->schema();

  std::vector<ColumnStats> columns(static_cast<size_t>(schema.num_columns()));
  for (int i = 0; i < schema.num_columns(); ++i) {
    const parquet::ColumnDescriptor& descr = *schema.Column(i);
    ColumnStats& c = columns[static_cast<size_t>(i)];
    c.name = descr.name();
    c.kind = kind_of(descr, c);
    c.in_list = descr.max_repetition_level() > 0;
  }
  for (int g = 0; g < footer->num_row_groups(); ++g) {
    const std::unique_ptr<parquet::RowGroupMetaData> group = footer->RowGroup(g);
    for (int i = 0; i < schema.num_columns(); ++i) {
      ColumnStats& c = columns[static_cast<size_t>(i)];
      if (!c.in_list) add_chunk(*group->ColumnChunk(i), group->num_rows(), c);
    }
  }
  return to_json(footer->num_rows(), schema, columns);
}

}  // namespace

Result<std::string> delta_file_stats(const arrow::Buffer& parquet_file) {
  // parquet-cpp reports a bad footer by throwing; this is the boundary where that becomes a value.
  // The buffer is a file our own encoder just wrote, so an unreadable footer is a bug, not
  // something a retry fixes.
  try {
    return compute(parquet_file);
  } catch (const std::exception& e) {
    return Status::fatal(std::string("reading the Parquet footer for Delta stats: ") + e.what(), StatusCode::kInternal);
  }
}

}  // namespace kpipe
