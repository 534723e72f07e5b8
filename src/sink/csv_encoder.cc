#include <arrow/array.h>
#include <arrow/builder.h>
#include <arrow/csv/writer.h>
#include <arrow/io/memory.h>
#include <arrow/type.h>

#include <string>
#include <vector>

#include "common/time_format.h"
#include "sink/arrow_boundary.h"
#include "sink/encoders.h"
#include "sink/value_text.h"

namespace kpipe {
namespace {

// Rows Arrow converts per chunk. Its default (1024) spends a measurable share of the time in
// per-chunk set-up for our narrow rows; a whole default-sized file (5000 rows) fits in one chunk.
constexpr int32_t kCsvChunkRows = 8192;
// "2025-11-06T12:30:00.123456Z"
constexpr int64_t kTimestampTextBytes = 27;
// A first guess of a nested value's JSON text; the builder grows past it as needed.
constexpr int64_t kNestedTextBytes = 64;

// A text column with the same nulls as `column`: `append(row, text)` writes row's text into one
// buffer reused for every row, then the builder copies it; neither allocates per value once
// both have grown to fit.
template <typename Append>
Result<std::shared_ptr<arrow::Array>> text_column(const arrow::Array& column, int64_t bytes_per_value,
                                                  Append&& append) {
  arrow::StringBuilder builder;
  const int64_t n = column.length();
  KPIPE_RETURN_IF_ERROR(from_arrow(builder.Reserve(n), "encoding csv"));
  KPIPE_RETURN_IF_ERROR(from_arrow(builder.ReserveData((n - column.null_count()) * bytes_per_value), "encoding csv"));
  std::string text;
  text.reserve(static_cast<size_t>(bytes_per_value));
  for (int64_t i = 0; i < n; ++i) {
    if (column.IsNull(i)) {
      builder.UnsafeAppendNull();
      continue;
    }
    text.clear();
    append(i, text);
    // Checked append: values may be longer than the reservation.
    KPIPE_RETURN_IF_ERROR(from_arrow(builder.Append(text), "encoding csv"));
  }
  std::shared_ptr<arrow::Array> out;
  KPIPE_RETURN_IF_ERROR(from_arrow(builder.Finish(&out), "encoding csv"));
  return out;
}

// Arrow's cast would write "2025-11-06 12:30:00.123000Z"; Spark writes ISO 8601 with a 'T' and
// milliseconds. A TIMESTAMP_NTZ (no zone in the type) is the same wall-clock text without 'Z'.
Result<std::shared_ptr<arrow::Array>> timestamps_as_text(const arrow::TimestampArray& ts) {
  const auto& type = static_cast<const arrow::TimestampType&>(*ts.type());
  const bool local = type.timezone().empty();
  return text_column(ts, kTimestampTextBytes, [&](int64_t i, std::string& text) {
    char buf[kMaxTimeText];
    char* end = format_timestamp(to_micros(ts.Value(i), type.unit()), TimestampStyle::kIsoUtc, buf);
    text.append(buf, static_cast<size_t>((local ? end - 1 : end) - buf));
  });
}

// CSV has no binary type, and raw bytes are not text: standard base64, as Spark's base64().
Result<std::shared_ptr<arrow::Array>> binary_as_base64(const arrow::BinaryArray& bytes) {
  const int64_t mean = bytes.length() > 0 ? bytes.total_values_length() / bytes.length() : 0;
  return text_column(bytes, (mean + 2) / 3 * 4 + 4,
                     [&](int64_t i, std::string& text) { append_base64(bytes.GetView(i), text); });
}

// Arrow's cast writes Java's BigDecimal form ("0E-8" for 0 at scale 8) and allocates a
// std::string per value past 15 characters: our own exact plain text instead ("0.00000000").
Result<std::shared_ptr<arrow::Array>> decimals_as_text(const arrow::Decimal128Array& decimals) {
  const auto& type = static_cast<const arrow::Decimal128Type&>(*decimals.type());
  return text_column(decimals, type.precision() + 3, [&](int64_t i, std::string& text) {
    char buf[kMaxDecimalText];
    text.append(buf, static_cast<size_t>(format_decimal128(decimals.GetValue(i), type.scale(), buf) - buf));
  });
}

// CSV has no nested types: a struct, array or map is its JSON text in one cell.
Result<std::shared_ptr<arrow::Array>> nested_as_json(const arrow::Array& column) {
  return text_column(column, kNestedTextBytes,
                     [&](int64_t i, std::string& text) { append_json_value(column, i, text); });
}

bool is_struct_list_or_map(arrow::Type::type id) {
  return id == arrow::Type::STRUCT || id == arrow::Type::LIST || id == arrow::Type::LARGE_LIST ||
         id == arrow::Type::MAP;
}

// The header is written bare (event_id,ts,...) as Spark writes it, unless a name needs quotes.
bool header_needs_quotes(const arrow::Schema& schema) {
  for (const auto& field : schema.fields()) {
    if (field->name().find_first_of(",\"\r\n") != std::string::npos || field->name().empty()) return true;
  }
  return false;
}

class CsvEncoder final : public FileEncoder {
 public:
  std::string_view sink_name() const override { return "csv"; }
  std::string_view extension() const override { return kCsvExtension; }

 protected:
  Result<std::shared_ptr<arrow::Buffer>> encode_rows(const arrow::RecordBatch& rows, int64_t offset,
                                                     int64_t length) const override {
    std::shared_ptr<arrow::RecordBatch> slice = rows.Slice(offset, length);
    KPIPE_ASSIGN_OR_RETURN(slice, with_text_columns(std::move(slice)));

    arrow::csv::WriteOptions options = arrow::csv::WriteOptions::Defaults();
    options.include_header = true;
    options.batch_size = kCsvChunkRows;
    options.delimiter = ',';
    options.null_string = "";
    options.eol = "\n";
    options.quoting_style = arrow::csv::QuotingStyle::Needed;
    options.quoting_header =
        header_needs_quotes(*slice->schema()) ? arrow::csv::QuotingStyle::Needed : arrow::csv::QuotingStyle::None;

    KPIPE_ASSIGN_OR_RETURN(
        auto sink, from_arrow(arrow::io::BufferOutputStream::Create(output_capacity(length, 64)), "encoding csv"));
    KPIPE_RETURN_IF_ERROR(from_arrow(arrow::csv::WriteCSV(*slice, options, sink.get()), "encoding csv"));
    return from_arrow(sink->Finish(), "encoding csv");
  }

  // The columns Arrow's CSV writer cannot write as Spark users expect, turned into text first
  // (and so quoted like strings): timestamps (ISO 8601), decimals (exact plain text), binary
  // (base64), structs, arrays and maps (JSON). Numbers, dates, booleans and strings go to Arrow
  // as they are.
  static Result<std::shared_ptr<arrow::RecordBatch>> with_text_columns(std::shared_ptr<arrow::RecordBatch> batch) {
    const arrow::Schema& schema = *batch->schema();
    std::vector<std::shared_ptr<arrow::Field>> fields = schema.fields();
    std::vector<std::shared_ptr<arrow::Array>> columns = batch->columns();
    bool changed = false;
    for (size_t i = 0; i < columns.size(); ++i) {
      const arrow::Type::type id = columns[i]->type_id();
      if (id == arrow::Type::TIMESTAMP) {
        KPIPE_ASSIGN_OR_RETURN(columns[i], timestamps_as_text(static_cast<const arrow::TimestampArray&>(*columns[i])));
      } else if (id == arrow::Type::DECIMAL128) {
        KPIPE_ASSIGN_OR_RETURN(columns[i], decimals_as_text(static_cast<const arrow::Decimal128Array&>(*columns[i])));
      } else if (id == arrow::Type::BINARY) {
        KPIPE_ASSIGN_OR_RETURN(columns[i], binary_as_base64(static_cast<const arrow::BinaryArray&>(*columns[i])));
      } else if (is_struct_list_or_map(id)) {
        KPIPE_ASSIGN_OR_RETURN(columns[i], nested_as_json(*columns[i]));
      } else {
        continue;
      }
      fields[i] = fields[i]->WithType(arrow::utf8());
      changed = true;
    }
    if (!changed) return batch;
    return arrow::RecordBatch::Make(arrow::schema(std::move(fields), schema.metadata()), batch->num_rows(),
                                    std::move(columns));
  }
};

}  // namespace

std::unique_ptr<FileEncoder> make_csv_encoder() {
  // Arrow's CSV writer casts every non-string column through the compute registry.
  (void)ensure_arrow_compute();
  return std::make_unique<CsvEncoder>();
}

}  // namespace kpipe
