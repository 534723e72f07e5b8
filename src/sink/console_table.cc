#include <arrow/array.h>
#include <arrow/scalar.h>
#include <arrow/type.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <vector>

#include "common/time_format.h"
#include "sink/encoders.h"
#include "sink/value_text.h"

namespace kpipe {
namespace {

// Spark's show(): values longer than this are cut to (kTruncate - 3) characters + "...".
constexpr int kTruncate = 20;
constexpr int kMinColumnWidth = 3;

// Java's Double.toString / Float.toString, which is what Spark's show() prints: decimal notation
// with at least one fraction digit for 1e-3 <= |v| < 1e7 ("1.0", "0.001"), otherwise computerized
// scientific notation ("1.0E7", "1.5E-4"). The digits are the shortest that round-trip.
template <typename F>
std::string java_float_text(F v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, r.ptr - buf);  // "-1.2345e+07"
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

  if (exponent >= -3 && exponent < 7) {
    if (exponent >= 0) {
      const size_t int_digits = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_digits) {
        out += digits;
        out.append(int_digits - digits.size(), '0');
        out += ".0";
      } else {
        out.append(digits, 0, int_digits);
        out.push_back('.');
        out.append(digits, int_digits);
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    }
    return out;
  }
  out.push_back(digits[0]);
  out.push_back('.');
  out += digits.size() > 1 ? digits.substr(1) : "0";
  out.push_back('E');
  out += std::to_string(exponent);
  return out;
}

template <typename T>
std::string int_text(T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void append_cell_text(const arrow::Array& column, int64_t row, std::string& out);

// Spark's show() prints a struct's values without names, "{7, [a, b]}".
void append_struct(const arrow::StructArray& s, int64_t row, std::string& out) {
  out.push_back('{');
  for (int k = 0; k < s.num_fields(); ++k) {
    if (k > 0) out += ", ";
    append_cell_text(*s.field(k), row, out);
  }
  out.push_back('}');
}

template <typename ListLike>
void append_list(const ListLike& list, int64_t row, std::string& out) {
  out.push_back('[');
  for (int64_t i = list.value_offset(row), end = list.value_offset(row + 1); i < end; ++i) {
    if (i > list.value_offset(row)) out += ", ";
    append_cell_text(*list.values(), i, out);
  }
  out.push_back(']');
}

// "{k -> v, z -> NULL}"
void append_map(const arrow::MapArray& map, int64_t row, std::string& out) {
  out.push_back('{');
  for (int64_t i = map.value_offset(row), end = map.value_offset(row + 1); i < end; ++i) {
    if (i > map.value_offset(row)) out += ", ";
    append_cell_text(*map.keys(), i, out);
    out += " -> ";
    append_cell_text(*map.items(), i, out);
  }
  out.push_back('}');
}

// Spark shows bytes as upper-case hex pairs, "[01 0A FF]"; no bytes "[]".
void append_hex_bytes(std::string_view bytes, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('[');
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out.push_back(' ');
    const auto b = static_cast<unsigned char>(bytes[i]);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  out.push_back(']');
}

// The text Spark 3.5's show() gives a value, at any depth: NULL for null (Spark 3.5 prints
// "NULL", where 3.4 and older printed "null").
void append_cell_text(const arrow::Array& column, int64_t row, std::string& out) {
  if (column.IsNull(row)) {
    out += "NULL";
    return;
  }
  char buf[kMaxTimeText];
  switch (column.type_id()) {
    case arrow::Type::STRING: out += static_cast<const arrow::StringArray&>(column).GetView(row); return;
    case arrow::Type::LARGE_STRING: out += static_cast<const arrow::LargeStringArray&>(column).GetView(row); return;
    case arrow::Type::BOOL:
      out += static_cast<const arrow::BooleanArray&>(column).Value(row) ? "true" : "false";
      return;
    case arrow::Type::INT8: out += int_text(static_cast<const arrow::Int8Array&>(column).Value(row)); return;
    case arrow::Type::INT16: out += int_text(static_cast<const arrow::Int16Array&>(column).Value(row)); return;
    case arrow::Type::INT32: out += int_text(static_cast<const arrow::Int32Array&>(column).Value(row)); return;
    case arrow::Type::INT64: out += int_text(static_cast<const arrow::Int64Array&>(column).Value(row)); return;
    case arrow::Type::FLOAT: out += java_float_text(static_cast<const arrow::FloatArray&>(column).Value(row)); return;
    case arrow::Type::DOUBLE: out += java_float_text(static_cast<const arrow::DoubleArray&>(column).Value(row)); return;
    case arrow::Type::DECIMAL128: {
      const auto& d = static_cast<const arrow::Decimal128Array&>(column);
      char text[kMaxDecimalText];
      const int32_t scale = static_cast<const arrow::Decimal128Type&>(*d.type()).scale();
      out.append(text, format_decimal128(d.GetValue(row), scale, text));
      return;
    }
    case arrow::Type::BINARY:
      append_hex_bytes(static_cast<const arrow::BinaryArray&>(column).GetView(row), out);
      return;
    case arrow::Type::DATE32:
      out.append(buf, format_date(static_cast<const arrow::Date32Array&>(column).Value(row), buf));
      return;
    case arrow::Type::DATE64: {
      int64_t days = floor_div(static_cast<const arrow::Date64Array&>(column).Value(row), 86'400'000);
      out.append(buf, format_date(days, buf));
      return;
    }
    case arrow::Type::TIMESTAMP: {
      // TIMESTAMP (UTC) and TIMESTAMP_NTZ print alike; the session time zone is UTC.
      const auto& ts = static_cast<const arrow::TimestampArray&>(column);
      auto unit = static_cast<const arrow::TimestampType&>(*ts.type()).unit();
      out.append(buf, format_timestamp(to_micros(ts.Value(row), unit), TimestampStyle::kDisplay, buf));
      return;
    }
    case arrow::Type::STRUCT: append_struct(static_cast<const arrow::StructArray&>(column), row, out); return;
    case arrow::Type::LIST: append_list(static_cast<const arrow::ListArray&>(column), row, out); return;
    case arrow::Type::LARGE_LIST: append_list(static_cast<const arrow::LargeListArray&>(column), row, out); return;
    case arrow::Type::MAP: append_map(static_cast<const arrow::MapArray&>(column), row, out); return;
    default: {
      auto scalar = column.GetScalar(row);
      out += scalar.ok() ? (*scalar)->ToString() : "?";
      return;
    }
  }
}

std::string cell_text(const arrow::Array& column, int64_t row) {
  std::string out;
  append_cell_text(column, row, out);
  return out;
}

// Spark's SchemaUtils.escapeMetaCharacters: a newline in a value must not break the table.
std::string escape_meta(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\f': out += "\\f"; break;
      case '\b': out += "\\b"; break;
      case '\v': out += "\\v"; break;
      case '\a': out += "\\a"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Byte length of the UTF-8 sequence starting with `lead`; a stray byte counts as one character.
size_t sequence_length(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

uint32_t decode_at(std::string_view s, size_t i, size_t len) {
  auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[i + k])); };
  switch (len) {
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    case 4: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    default: return b(0);
  }
}

// The ranges Spark's Utils.stringHalfWidth counts as two columns (CJK, Hangul, full-width forms).
bool is_full_width(uint32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0xFE10 && cp <= 0xFE19) || (cp >= 0xFE30 && cp <= 0xFE6F) ||
         (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6);
}

struct Cell {
  std::string text;
  int width = 0;  // terminal columns
};

// Cuts to kTruncate characters as Spark does (17 + "..."), never inside a UTF-8 sequence.
Cell make_cell(std::string text, bool truncate) {
  Cell cell;
  size_t chars = 0;
  size_t cut = std::string::npos;  // byte offset after kTruncate - 3 characters
  for (size_t i = 0; i < text.size();) {
    size_t len = std::min(sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
    ++chars;
    if (chars == kTruncate - 3) cut = i + len;
    i += len;
  }
  if (truncate && chars > static_cast<size_t>(kTruncate)) {
    text.resize(cut);
    text += "...";
  }
  for (size_t i = 0; i < text.size();) {
    size_t len = std::min(sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
    cell.width += is_full_width(decode_at(text, i, len)) ? 2 : 1;
    i += len;
  }
  cell.text = std::move(text);
  return cell;
}

void append_separator(const std::vector<int>& widths, std::string& out) {
  out.push_back('+');
  for (int w : widths) {
    out.append(static_cast<size_t>(w), '-');
    out.push_back('+');
  }
  out.push_back('\n');
}

void append_row(const std::vector<Cell>& cells, const std::vector<int>& widths, bool right_align, std::string& out) {
  out.push_back('|');
  for (size_t c = 0; c < cells.size(); ++c) {
    const size_t pad = static_cast<size_t>(widths[c] - cells[c].width);
    if (right_align) out.append(pad, ' ');
    out += cells[c].text;
    if (!right_align) out.append(pad, ' ');
    out.push_back('|');
  }
  out.push_back('\n');
}

}  // namespace

std::string format_console_table(int64_t batch_id, const arrow::RecordBatch& rows, int max_rows, bool truncate) {
  const int num_columns = rows.num_columns();
  const int64_t shown = std::max<int64_t>(0, std::min<int64_t>(max_rows, rows.num_rows()));

  std::vector<Cell> header;
  std::vector<int> widths(static_cast<size_t>(num_columns), kMinColumnWidth);
  for (int c = 0; c < num_columns; ++c) {
    header.push_back(make_cell(escape_meta(rows.schema()->field(c)->name()), false));
    widths[c] = std::max(widths[c], header.back().width);
  }
  std::vector<std::vector<Cell>> body(static_cast<size_t>(shown));
  for (int64_t r = 0; r < shown; ++r) {
    for (int c = 0; c < num_columns; ++c) {
      body[r].push_back(make_cell(escape_meta(cell_text(*rows.column(c), r)), truncate));
      widths[c] = std::max(widths[c], body[r].back().width);
    }
  }

  std::string out =
      "-------------------------------------------\n"
      "Batch: " +
      std::to_string(batch_id) +
      "\n"
      "-------------------------------------------\n";
  append_separator(widths, out);
  append_row(header, widths, truncate, out);
  append_separator(widths, out);
  // Spark right-aligns when it truncates and left-aligns when it does not.
  for (const auto& row : body) append_row(row, widths, truncate, out);
  append_separator(widths, out);
  if (rows.num_rows() > shown) {
    out += "only showing top " + std::to_string(shown) + (shown == 1 ? " row\n" : " rows\n");
  }
  return out;
}

}  // namespace kpipe
