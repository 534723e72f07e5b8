#include <arrow/io/memory.h>
#include <arrow/memory_pool.h>
#include <parquet/arrow/writer.h>
#include <parquet/properties.h>

#include <cctype>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/strings.h"
#include "sink/arrow_boundary.h"
#include "sink/dictionary_choice.h"
#include "sink/encoders.h"

#ifndef KPIPE_VERSION
#define KPIPE_VERSION "dev"
#endif

namespace kpipe {
namespace {

// One row group per file up to this many rows: our files are MAX_RECORDS_PER_FILE rows (5000 by
// default), and one row group per file is what readers scan fastest. Arrow's own default.
constexpr int64_t kMaxRowGroupRows = 1024 * 1024;

parquet::Compression::type codec_of(Compression c) {
  switch (c) {
    case Compression::kSnappy: return parquet::Compression::SNAPPY;
    case Compression::kZstd: return parquet::Compression::ZSTD;
    case Compression::kNone: return parquet::Compression::UNCOMPRESSED;
  }
  return parquet::Compression::UNCOMPRESSED;
}

// `plain`: the columns written without a dictionary (columns_without_dictionary).
std::shared_ptr<parquet::WriterProperties> writer_properties(Compression c, const std::vector<std::string>& plain) {
  parquet::WriterProperties::Builder builder;
  for (const std::string& column : plain) builder.disable_dictionary(column);
  return builder
      // "<application> version <semver> (build <x>)" is the shape parquet-mr's VersionParser
      // accepts; a created_by it cannot parse makes Spark ignore the string columns' statistics.
      .created_by("kpipe version " KPIPE_VERSION " (build " CREATED_BY_VERSION ")")
      ->compression(codec_of(c))
      ->enable_dictionary()
      ->enable_statistics()
      ->max_row_group_length(kMaxRowGroupRows)
      // DECIMAL(p <= 9) on INT32 and (p <= 18) on INT64, as Spark writes them unless
      // spark.sql.parquet.writeLegacyFormat; larger precisions on FIXED_LEN_BYTE_ARRAY.
      // Spark, Hive 2+, DuckDB, pyarrow and delta-rs read all three.
      ->enable_store_decimal_as_integer()
      // Format 2.6 for the logical types (TIMESTAMP with isAdjustedToUTC); data pages stay V1,
      // which every Spark and Hive reader handles.
      ->version(parquet::ParquetVersion::PARQUET_2_6)
      ->data_page_version(parquet::ParquetDataPageVersion::V1)
      ->build();
}

std::shared_ptr<parquet::ArrowWriterProperties> arrow_writer_properties() {
  return parquet::ArrowWriterProperties::Builder()
      // timestamp[us, UTC] is stored as TIMESTAMP(isAdjustedToUTC=true, MICROS) as declared,
      // not as Spark's legacy int96 and not truncated to milliseconds.
      .disable_deprecated_int96_timestamps()
      ->coerce_timestamps(arrow::TimeUnit::MICRO)
      ->disallow_truncated_timestamps()
      // The Arrow schema in the footer, as pyarrow writes it: pyarrow reads back the exact types.
      ->store_schema()
      // Lists in the Parquet spec's 3-level form with the element named "element", as Spark
      // writes them and Spark's and Delta's readers expect (Arrow's default, pinned here).
      ->enable_compliant_nested_types()
      // The engine already encodes files in parallel; threads inside one file would oversubscribe.
      ->set_use_threads(false)
      ->build();
}

class ParquetEncoder final : public FileEncoder {
 public:
  explicit ParquetEncoder(Compression c)
      : compression_(c), extension_(parquet_extension(c)), arrow_props_(arrow_writer_properties()) {}

  std::string_view sink_name() const override { return "parquet"; }
  std::string_view extension() const override { return extension_; }

 protected:
  Result<std::shared_ptr<arrow::Buffer>> encode_rows(const arrow::RecordBatch& rows, int64_t offset,
                                                     int64_t length) const override {
    std::shared_ptr<arrow::RecordBatch> slice = rows.Slice(offset, length);
    KPIPE_ASSIGN_OR_RETURN(
        auto sink, from_arrow(arrow::io::BufferOutputStream::Create(output_capacity(length, 48)), "encoding parquet"));
    KPIPE_ASSIGN_OR_RETURN(
        auto writer,
        from_arrow(parquet::arrow::FileWriter::Open(*rows.schema(), arrow::default_memory_pool(), sink,
                                                    properties_for(columns_without_dictionary(*slice)), arrow_props_),
                   "encoding parquet"));
    KPIPE_RETURN_IF_ERROR(from_arrow(writer->WriteRecordBatch(*slice), "encoding parquet"));
    KPIPE_RETURN_IF_ERROR(from_arrow(writer->Close(), "encoding parquet"));
    return from_arrow(sink->Finish(), "encoding parquet");
  }

  // The writer properties for a choice of plain columns, made once per choice: a topic's files
  // mostly make the same one.
  std::shared_ptr<parquet::WriterProperties> properties_for(const std::vector<std::string>& plain) const {
    std::string key;
    for (const std::string& column : plain) key.append(column).push_back('\0');
    std::lock_guard lock(mu_);
    auto it = props_.find(key);
    if (it != props_.end()) return it->second;
    if (props_.size() >= kMaxPropertyChoices) props_.clear();
    return props_[key] = writer_properties(compression_, plain);
  }

  static constexpr size_t kMaxPropertyChoices = 64;
  Compression compression_;
  std::string_view extension_;
  std::shared_ptr<parquet::ArrowWriterProperties> arrow_props_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<parquet::WriterProperties>> props_;
};

}  // namespace

Result<Compression> parse_compression(std::string_view text) {
  const std::string lower = ascii_lower(text);
  if (lower == "snappy") return Compression::kSnappy;
  if (lower == "zstd") return Compression::kZstd;
  if (lower == "none" || lower == "uncompressed") return Compression::kNone;
  return Status::fatal("PARQUET_COMPRESSION=" + std::string(text) +
                       ": expected snappy, zstd or none (also: uncompressed)");
}

std::string_view parquet_extension(Compression compression) {
  switch (compression) {
    case Compression::kSnappy: return ".snappy.parquet";
    case Compression::kZstd: return ".zstd.parquet";
    case Compression::kNone: return ".parquet";
  }
  return ".parquet";
}

std::unique_ptr<FileEncoder> make_parquet_encoder(Compression compression) {
  // The writer itself does not cast today; registering anyway keeps "Initialize() before any
  // Arrow call" out of the engine's hands. A failure is reported by encode().
  (void)ensure_arrow_compute();
  return std::make_unique<ParquetEncoder>(compression);
}

}  // namespace kpipe
