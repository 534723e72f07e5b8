#include "sink/value_text.h"

#include <arrow/array.h>
#include <arrow/scalar.h>
#include <arrow/type.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "common/json_writer.h"
#include "common/time_format.h"

namespace kpipe {
namespace {

template <typename T>
void append_number(T v, std::string& out) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

template <typename F>
void append_float(F v, std::string& out) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    append_number(v, out);
  }
}

void append_timestamp(const arrow::TimestampArray& ts, int64_t row, std::string& out) {
  const auto& type = static_cast<const arrow::TimestampType&>(*ts.type());
  char text[kMaxTimeText];
  char* end = format_timestamp(to_micros(ts.Value(row), type.unit()), TimestampStyle::kIsoUtc, text);
  // A TIMESTAMP_NTZ is a wall-clock time: the same text without the zone designator.
  if (type.timezone().empty()) --end;
  out.push_back('"');
  out.append(text, end);
  out.push_back('"');
}

void append_struct(const arrow::StructArray& s, int64_t row, std::string& out) {
  const auto& type = static_cast<const arrow::StructType&>(*s.type());
  out.push_back('{');
  for (int k = 0; k < s.num_fields(); ++k) {
    if (k > 0) out.push_back(',');
    JsonWriter::escape(type.field(k)->name(), out);
    out.push_back(':');
    append_json_value(*s.field(k), row, out);
  }
  out.push_back('}');
}

template <typename ListLike>
void append_list(const ListLike& list, int64_t row, std::string& out) {
  const arrow::Array& values = *list.values();
  out.push_back('[');
  for (int64_t i = list.value_offset(row), end = list.value_offset(row + 1); i < end; ++i) {
    if (i > list.value_offset(row)) out.push_back(',');
    append_json_value(values, i, out);
  }
  out.push_back(']');
}

void append_map(const arrow::MapArray& map, int64_t row, std::string& out) {
  const arrow::Array& keys = *map.keys();
  const arrow::Array& items = *map.items();
  out.push_back('{');
  for (int64_t i = map.value_offset(row), end = map.value_offset(row + 1); i < end; ++i) {
    if (i > map.value_offset(row)) out.push_back(',');
    if (keys.type_id() == arrow::Type::STRING) {
      JsonWriter::escape(static_cast<const arrow::StringArray&>(keys).GetView(i), out);
    } else {
      // JSON object keys are strings: any other key type is quoted as its own JSON text.
      std::string key;
      append_json_value(keys, i, key);
      JsonWriter::escape(key, out);
    }
    out.push_back(':');
    append_json_value(items, i, out);
  }
  out.push_back('}');
}

}  // namespace

int64_t to_micros(int64_t value, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return value * 1'000'000;
    case arrow::TimeUnit::MILLI: return value * 1'000;
    case arrow::TimeUnit::MICRO: return value;
    case arrow::TimeUnit::NANO: return floor_div(value, 1'000);
  }
  return value;
}

char* format_decimal128(const uint8_t* value, int32_t scale, char* out) {
  uint64_t lo = 0, hi = 0;
  std::memcpy(&lo, value, 8);
  std::memcpy(&hi, value + 8, 8);
  unsigned __int128 magnitude = (static_cast<unsigned __int128>(hi) << 64) | lo;
  const bool negative = (hi >> 63) != 0;
  if (negative) magnitude = ~magnitude + 1;  // two's complement; |-2^127| still fits unsigned

  char digits[kMaxDecimalText];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
  } while (magnitude != 0);
  // At least one digit before the point: 0.05 has digits "5", scale 2 → "005" → "0.05".
  while (n <= scale) digits[n++] = '0';

  if (negative) *out++ = '-';
  for (int i = n - 1; i >= 0; --i) {
    *out++ = digits[i];
    if (i == scale && scale > 0) *out++ = '.';
  }
  const bool zero = n == 1 && digits[0] == '0';
  for (int i = scale; i < 0 && !zero; ++i) *out++ = '0';
  return out;
}

void append_base64(std::string_view bytes, std::string& out) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    const uint32_t v = p[i] << 16;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out += "==";
  } else if (n - i == 2) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
}

void append_json_value(const arrow::Array& array, int64_t row, std::string& out) {
  if (array.IsNull(row)) {
    out += "null";
    return;
  }
  switch (array.type_id()) {
    case arrow::Type::BOOL: out += static_cast<const arrow::BooleanArray&>(array).Value(row) ? "true" : "false"; return;
    case arrow::Type::INT8: return append_number(static_cast<const arrow::Int8Array&>(array).Value(row), out);
    case arrow::Type::INT16: return append_number(static_cast<const arrow::Int16Array&>(array).Value(row), out);
    case arrow::Type::INT32: return append_number(static_cast<const arrow::Int32Array&>(array).Value(row), out);
    case arrow::Type::INT64: return append_number(static_cast<const arrow::Int64Array&>(array).Value(row), out);
    case arrow::Type::FLOAT: return append_float(static_cast<const arrow::FloatArray&>(array).Value(row), out);
    case arrow::Type::DOUBLE: return append_float(static_cast<const arrow::DoubleArray&>(array).Value(row), out);
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::Decimal128Array&>(array);
      char text[kMaxDecimalText];
      const int32_t scale = static_cast<const arrow::Decimal128Type&>(*d.type()).scale();
      out.append(text, format_decimal128(d.GetValue(row), scale, text));
      return;
    }
    case arrow::Type::STRING:
      return JsonWriter::escape(static_cast<const arrow::StringArray&>(array).GetView(row), out);
    case arrow::Type::LARGE_STRING:
      return JsonWriter::escape(static_cast<const arrow::LargeStringArray&>(array).GetView(row), out);
    case arrow::Type::BINARY:
      out.push_back('"');
      append_base64(static_cast<const arrow::BinaryArray&>(array).GetView(row), out);
      out.push_back('"');
      return;
    case arrow::Type::DATE32: {
      char text[kMaxTimeText];
      out.push_back('"');
      out.append(text, format_date(static_cast<const arrow::Date32Array&>(array).Value(row), text));
      out.push_back('"');
      return;
    }
    case arrow::Type::TIMESTAMP: return append_timestamp(static_cast<const arrow::TimestampArray&>(array), row, out);
    case arrow::Type::STRUCT: return append_struct(static_cast<const arrow::StructArray&>(array), row, out);
    case arrow::Type::LIST: return append_list(static_cast<const arrow::ListArray&>(array), row, out);
    case arrow::Type::LARGE_LIST: return append_list(static_cast<const arrow::LargeListArray&>(array), row, out);
    case arrow::Type::MAP: return append_map(static_cast<const arrow::MapArray&>(array), row, out);
    default: {
      auto scalar = array.GetScalar(row);
      JsonWriter::escape(scalar.ok() ? (*scalar)->ToString() : "?", out);
      return;
    }
  }
}

}  // namespace kpipe
