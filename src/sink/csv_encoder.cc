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

namespace kpipe {
namespace {

// Rows Arrow converts per chunk. Its default (1024) spends a measurable share of the time in
// per-chunk set-up for our narrow rows; a whole default-sized file (5000 rows) fits in one chunk.
constexpr int32_t kCsvChunkRows = 8192;
// "2025-11-06T12:30:00.123456Z"
constexpr int64_t kTimestampTextBytes = 27;

int64_t to_micros(int64_t value, arrow::TimeUnit::type unit) {
  switch (unit) {
    case arrow::TimeUnit::SECOND: return value * 1'000'000;
    case arrow::TimeUnit::MILLI: return value * 1'000;
    case arrow::TimeUnit::MICRO: return value;
    case arrow::TimeUnit::NANO: return floor_div(value, 1'000);
  }
  return value;
}

// Arrow's cast would write "2025-11-06 12:30:00.123000Z"; Spark writes ISO 8601 with a 'T' and
// milliseconds. Formatting ourselves into one pre-sized builder costs no allocation per value.
Result<std::shared_ptr<arrow::Array>> timestamps_as_text(const arrow::TimestampArray& ts) {
  const auto unit = static_cast<const arrow::TimestampType&>(*ts.type()).unit();
  arrow::StringBuilder builder;
  const int64_t n = ts.length();
  KPIPE_RETURN_IF_ERROR(from_arrow(builder.Reserve(n), "encoding csv"));
  KPIPE_RETURN_IF_ERROR(from_arrow(builder.ReserveData((n - ts.null_count()) * kTimestampTextBytes), "encoding csv"));
  char text[kMaxTimeText];
  for (int64_t i = 0; i < n; ++i) {
    if (ts.IsNull(i)) {
      builder.UnsafeAppendNull();
      continue;
    }
    char* end = format_timestamp(to_micros(ts.Value(i), unit), TimestampStyle::kIsoUtc, text);
    // Checked append: years past 9999 are longer than the reservation.
    KPIPE_RETURN_IF_ERROR(from_arrow(builder.Append(text, static_cast<int32_t>(end - text)), "encoding csv"));
  }
  std::shared_ptr<arrow::Array> out;
  KPIPE_RETURN_IF_ERROR(from_arrow(builder.Finish(&out), "encoding csv"));
  return out;
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
    KPIPE_ASSIGN_OR_RETURN(slice, with_timestamps_as_text(std::move(slice)));

    arrow::csv::WriteOptions options = arrow::csv::WriteOptions::Defaults();
    options.include_header = true;
    options.batch_size = kCsvChunkRows;
    options.delimiter = ',';
    options.null_string = "";
    options.eol = "\n";
    options.quoting_style = arrow::csv::QuotingStyle::Needed;
    options.quoting_header =
        header_needs_quotes(*slice->schema()) ? arrow::csv::QuotingStyle::Needed : arrow::csv::QuotingStyle::None;

    KPIPE_ASSIGN_OR_RETURN(auto sink,
                           from_arrow(arrow::io::BufferOutputStream::Create(64 * 1024 + length * 64), "encoding csv"));
    KPIPE_RETURN_IF_ERROR(from_arrow(arrow::csv::WriteCSV(*slice, options, sink.get()), "encoding csv"));
    return from_arrow(sink->Finish(), "encoding csv");
  }

  static Result<std::shared_ptr<arrow::RecordBatch>> with_timestamps_as_text(
      std::shared_ptr<arrow::RecordBatch> batch) {
    const arrow::Schema& schema = *batch->schema();
    std::vector<std::shared_ptr<arrow::Field>> fields = schema.fields();
    std::vector<std::shared_ptr<arrow::Array>> columns = batch->columns();
    bool changed = false;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i]->type_id() != arrow::Type::TIMESTAMP) continue;
      KPIPE_ASSIGN_OR_RETURN(columns[i], timestamps_as_text(static_cast<const arrow::TimestampArray&>(*columns[i])));
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
