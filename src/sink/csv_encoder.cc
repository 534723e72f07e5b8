// The CSV encoder: one pass over a file's rows, each cell formatted straight into the file's
// buffer. Arrow's CSV writer cast every non-string column to a string array first (timestamps
// went through a text column of our own, then through its cast again) and quoted every string;
// this writes each value once, and quotes only what needs quotes, as Spark's CSV writer does.
#include <arrow/array.h>
#include <arrow/buffer.h>
#include <arrow/compute/cast.h>
#include <arrow/type.h>
#include <arrow/util/formatting.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/time_format.h"
#include "sink/arrow_boundary.h"
#include "sink/decimal_text.h"
#include "sink/encoders.h"
#include "sink/value_text.h"

namespace kpipe {
namespace {

// Bytes a row of the seed's events takes (about 80), rounded up: the first file's reservation.
constexpr int64_t kFirstGuessBytesPerRow = 96;
// Room any number, date, timestamp or decimal cell needs, with its separator.
constexpr int64_t kMaxScalarText = 128;
static_assert(kMaxScalarText > kMaxDecimalText && kMaxScalarText > kMaxTimeText);

// The bytes of one file, grown by doubling only when a cell does not fit the reservation.
class CsvText {
 public:
  explicit CsvText(int64_t capacity) {
    buffer_ = throw_if_error(arrow::AllocateResizableBuffer(capacity));
    data_ = reinterpret_cast<char*>(buffer_->mutable_data());
    capacity_ = buffer_->capacity();
  }

  // At least `n` writable bytes at the returned pointer; `commit` says where the text ends.
  char* reserve(int64_t n) {
    if (capacity_ - size_ < n) grow(n);
    return data_ + size_;
  }
  void commit(const char* end) { size_ = end - data_; }

  void put(char c) {
    *reserve(1) = c;
    ++size_;
  }
  void append(std::string_view s) {
    char* p = reserve(static_cast<int64_t>(s.size()));
    std::memcpy(p, s.data(), s.size());
    size_ += static_cast<int64_t>(s.size());
  }

  std::shared_ptr<arrow::Buffer> finish() {
    throw_if_error(buffer_->Resize(size_, /*shrink_to_fit=*/false));
    return std::move(buffer_);
  }

 private:
  void grow(int64_t n) {
    throw_if_error(buffer_->Reserve(std::max(capacity_ * 2, size_ + n)));
    data_ = reinterpret_cast<char*>(buffer_->mutable_data());
    capacity_ = buffer_->capacity();
  }
  template <typename T>
  static T throw_if_error(arrow::Result<T> r) {
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    return std::move(r).ValueUnsafe();
  }
  static void throw_if_error(const arrow::Status& s) {
    if (!s.ok()) throw std::runtime_error(s.ToString());
  }

  std::unique_ptr<arrow::ResizableBuffer> buffer_;
  char* data_ = nullptr;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
};

bool is_special(char c) { return c == ',' || c == '"' || c == '\n' || c == '\r'; }

// Whether any of the 8 bytes of `w` is special: the classic "has a zero byte" test on `w` XOR
// each special byte repeated (exact for whether one exists).
bool has_special(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const auto zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHighs; };
  return (zero_byte(w ^ (kOnes * ',')) | zero_byte(w ^ (kOnes * '"')) | zero_byte(w ^ (kOnes * '\n')) |
          zero_byte(w ^ (kOnes * '\r'))) != 0;
}

// RFC 4180 quoting where a reader needs it: a value holding the delimiter, a quote or a line
// break; the empty string (an unquoted empty cell is null); and a value starting or ending with
// a space or tab (readers that trim would change it). Everything else is written bare.
bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  if (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' || v.back() == '\t') return true;
  size_t i = 0;
  for (; i + 8 <= v.size(); i += 8) {  // 8 bytes at a time: a string cell was 2 % of a drain's CPU
    uint64_t w;
    std::memcpy(&w, v.data() + i, sizeof w);
    if (has_special(w)) return true;
  }
  for (; i < v.size(); ++i) {
    if (is_special(v[i])) return true;
  }
  return false;
}

// `v` in quotes, each quote inside doubled (RFC 4180).
void put_quoted(std::string_view v, CsvText& out) {
  char* p = out.reserve(static_cast<int64_t>(v.size()) * 2 + 2);
  *p++ = '"';
  for (char c : v) {
    *p++ = c;
    if (c == '"') *p++ = '"';
  }
  *p++ = '"';
  out.commit(p);
}

void put_text(std::string_view v, CsvText& out) {
  if (needs_quotes(v)) {
    put_quoted(v, out);
  } else {
    out.append(v);
  }
}

enum class Cell {
  kString,
  kLargeString,
  kBool,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kFloat,
  kDouble,
  kDate,
  kTimestamp,
  kDecimal,
  kBinary,
  kJson
};

// One column of the file, its cell writer chosen once per file rather than once per cell.
struct Column {
  std::shared_ptr<arrow::Array> array;
  Cell cell = Cell::kString;
  int64_t first = 0;  // the row of `array` that is the batch's row 0 (a cast column starts at the file's row)
  arrow::TimeUnit::type unit = arrow::TimeUnit::MICRO;
  bool zone = true;  // a TIMESTAMP with a zone ends in 'Z'; TIMESTAMP_NTZ is the wall-clock text
  int32_t scale = 0;
  // A timestamp column's last second and its text ("2025-11-06T12:30:00"): the rows of a file
  // mostly share their seconds with their neighbours, and the calendar and clock arithmetic is
  // most of a timestamp's cost.
  int64_t second = std::numeric_limits<int64_t>::min();
  char second_text[kMaxTimeText];
  int second_text_size = 0;
};

bool is_struct_list_or_map(arrow::Type::type id) {
  return id == arrow::Type::STRUCT || id == arrow::Type::LIST || id == arrow::Type::LARGE_LIST ||
         id == arrow::Type::MAP;
}

// Numbers, dates and booleans bare, as Arrow's writer wrote them (floating point through Arrow's
// own shortest round-trip formatter: "0.1", "1e-7", "1e+300", "nan", "inf"); timestamps ISO 8601
// as Spark writes them; decimals exact in plain notation; binary base64 (CSV has no bytes);
// structs, arrays and maps as their JSON text (CSV has no nested types). A type the schema never
// makes is cast to text by Arrow, once per file.
Column column_for(const std::shared_ptr<arrow::Array>& array, int64_t offset, int64_t length) {
  Column c;
  c.array = array;
  switch (array->type_id()) {
    case arrow::Type::STRING: c.cell = Cell::kString; break;
    case arrow::Type::LARGE_STRING: c.cell = Cell::kLargeString; break;
    case arrow::Type::BOOL: c.cell = Cell::kBool; break;
    case arrow::Type::INT8: c.cell = Cell::kInt8; break;
    case arrow::Type::INT16: c.cell = Cell::kInt16; break;
    case arrow::Type::INT32: c.cell = Cell::kInt32; break;
    case arrow::Type::INT64: c.cell = Cell::kInt64; break;
    case arrow::Type::FLOAT: c.cell = Cell::kFloat; break;
    case arrow::Type::DOUBLE: c.cell = Cell::kDouble; break;
    case arrow::Type::DATE32: c.cell = Cell::kDate; break;
    case arrow::Type::BINARY: c.cell = Cell::kBinary; break;
    case arrow::Type::TIMESTAMP: {
      const auto& type = static_cast<const arrow::TimestampType&>(*array->type());
      c.cell = Cell::kTimestamp;
      c.unit = type.unit();
      c.zone = !type.timezone().empty();
      break;
    }
    case arrow::Type::DECIMAL128:
      c.cell = Cell::kDecimal;
      c.scale = static_cast<const arrow::Decimal128Type&>(*array->type()).scale();
      break;
    default:
      if (is_struct_list_or_map(array->type_id())) {
        c.cell = Cell::kJson;
        break;
      }
      auto text = arrow::compute::Cast(*array->Slice(offset, length), arrow::utf8());
      if (!text.ok())
        throw std::runtime_error("column of type " + array->type()->ToString() + ": " + text.status().ToString());
      c.array = *text;
      c.cell = Cell::kString;
      c.first = offset;
      break;
  }
  return c;
}

template <typename T>
char* put_number(T v, char* p) {
  return std::to_chars(p, p + kMaxScalarText, v).ptr;
}

class CellWriter {
 public:
  // Writes row `row` of `c`, which is not null.
  void write(Column& c, int64_t row, CsvText& out) {
    const arrow::Array& a = *c.array;
    const int64_t i = row - c.first;
    switch (c.cell) {
      case Cell::kString: return put_text(static_cast<const arrow::StringArray&>(a).GetView(i), out);
      case Cell::kLargeString: return put_text(static_cast<const arrow::LargeStringArray&>(a).GetView(i), out);
      case Cell::kBool: return out.append(static_cast<const arrow::BooleanArray&>(a).Value(i) ? "true" : "false");
      case Cell::kBinary: {
        scratch_.clear();
        append_base64(static_cast<const arrow::BinaryArray&>(a).GetView(i), scratch_);
        return put_text(scratch_, out);
      }
      case Cell::kJson:
        scratch_.clear();
        append_json_value(a, i, scratch_);
        return put_text(scratch_, out);
      default: break;
    }
    char* p = out.reserve(kMaxScalarText);
    switch (c.cell) {
      case Cell::kInt8: p = put_number(static_cast<const arrow::Int8Array&>(a).Value(i), p); break;
      case Cell::kInt16: p = put_number(static_cast<const arrow::Int16Array&>(a).Value(i), p); break;
      case Cell::kInt32: p = put_number(static_cast<const arrow::Int32Array&>(a).Value(i), p); break;
      case Cell::kInt64: p = put_number(static_cast<const arrow::Int64Array&>(a).Value(i), p); break;
      case Cell::kFloat:
        p += floats_.FormatFloat(static_cast<const arrow::FloatArray&>(a).Value(i), p, kMaxScalarText);
        break;
      case Cell::kDouble: {
        const double v = static_cast<const arrow::DoubleArray&>(a).Value(i);
        char* end = put_short_decimal(v, p);
        p = end ? end : p + floats_.FormatFloat(v, p, kMaxScalarText);
        break;
      }
      case Cell::kDate: p = format_date(static_cast<const arrow::Date32Array&>(a).Value(i), p); break;
      case Cell::kTimestamp: {
        const SecondAndFraction t =
            split_micros(to_micros(static_cast<const arrow::TimestampArray&>(a).Value(i), c.unit));
        if (t.second != c.second) {
          c.second = t.second;
          c.second_text_size = static_cast<int>(
              format_timestamp_seconds(t.second, TimestampStyle::kIsoUtc, c.second_text) - c.second_text);
        }
        p = std::copy_n(c.second_text, c.second_text_size, p);
        char* end = format_second_fraction(t.fraction, TimestampStyle::kIsoUtc, p);
        p = c.zone ? end : end - 1;
        break;
      }
      case Cell::kDecimal:
        p = format_decimal128(static_cast<const arrow::Decimal128Array&>(a).GetValue(i), c.scale, p);
        break;
      default: break;
    }
    out.commit(p);
  }

 private:
  arrow::internal::FloatToStringFormatter floats_;  // the defaults Arrow's cast to string uses
  std::string scratch_;                             // binary and nested cells, grown once and reused for every row
};

// The header is written bare (event_id,ts,...) as Spark writes it, unless a name needs quotes
// by the rule values follow; then every name is quoted, as Arrow's writer did.
void put_header(const arrow::Schema& schema, CsvText& out) {
  bool quote = false;
  for (const auto& field : schema.fields()) {
    if (needs_quotes(field->name())) quote = true;
  }
  for (int i = 0; i < schema.num_fields(); ++i) {
    if (i > 0) out.put(',');
    const std::string& name = schema.field(i)->name();
    if (quote) {
      put_quoted(name, out);
    } else {
      out.append(name);
    }
  }
  out.put('\n');
}

class CsvEncoder final : public FileEncoder {
 public:
  std::string_view sink_name() const override { return "csv"; }
  std::string_view extension() const override { return kCsvExtension; }

 protected:
  Result<std::shared_ptr<arrow::Buffer>> encode_rows(const arrow::RecordBatch& rows, int64_t offset,
                                                     int64_t length) const override {
    std::vector<Column> columns;
    columns.reserve(static_cast<size_t>(rows.num_columns()));
    for (int c = 0; c < rows.num_columns(); ++c) columns.push_back(column_for(rows.column(c), offset, length));

    CsvText out(output_capacity(length, kFirstGuessBytesPerRow));
    put_header(*rows.schema(), out);
    CellWriter cells;
    for (int64_t row = offset; row < offset + length; ++row) {
      for (size_t c = 0; c < columns.size(); ++c) {
        if (c > 0) out.put(',');
        Column& column = columns[c];
        if (!column.array->IsNull(row - column.first)) cells.write(column, row, out);
      }
      out.put('\n');
    }
    return out.finish();
  }
};

}  // namespace

std::unique_ptr<FileEncoder> make_csv_encoder() {
  // A column of a type the schema never makes is cast to text through the compute registry.
  (void)ensure_arrow_compute();
  return std::make_unique<CsvEncoder>();
}

}  // namespace kpipe
