// The file outputs of a batch (Parquet, CSV, dead-letter) as one list, each a FileSink: where its
// files go, how the batch's rows are cut into files (step 3 of the batch protocol, pure) and how
// one file's bytes are made. The engine writes, publishes and commits every sink's files the same
// way; a new output format is a new FileSink, not an edit of the engine.
//
// The write-ahead entry records each sink as a SinkSpec, and a replay makes its sinks from the
// entry (make_file_sinks), so a restart with another SINKS, OUTPUT_PATH or PARQUET_COMPRESSION
// finishes the pending batch as it was planned; the new settings apply from the next batch.
#pragma once

#include <arrow/api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "engine/checkpoint.h"
#include "engine/file_planner.h"

namespace kpipe {

inline constexpr std::string_view kParquetSink = "parquet";
inline constexpr std::string_view kCsvSink = "csv";
inline constexpr std::string_view kDeadLetterSink = "dead-letter";

// The rows of one dt of a batch: one chunk per Kafka partition that has rows of that day, in
// the order of the batch's ranges. Files are cut from them as if they were one batch.
using DayChunks = std::vector<std::shared_ptr<arrow::RecordBatch>>;

// What a batch decoded, as the sinks see it.
struct BatchRows {
  std::map<int32_t, std::shared_ptr<const DayChunks>> days;  // dt (days since 1970-01-01) → rows
  std::vector<BadRecord> bad;                                // in range order
  int64_t good_rows() const;
};

// One output file of a batch, from plan to final name.
struct FileTask {
  size_t sink = 0;    // index into the batch's sink list
  int32_t day = 0;    // its dt; 0 for the dead-letter file
  FileSlice slice;    // its rows within the day's rows (or the bad records)
  std::string dir;    // the directory it is published in
  std::string path;   // below the sink's root, as the checkpoint records it
  std::string name;   // final name, last component of `path`
  int64_t bytes = 0;  // set when written
  std::string stats;  // set when written, for a Delta table's Parquet files: the add's stats JSON
};

class FileSink {
 public:
  explicit FileSink(SinkSpec spec) : spec_(std::move(spec)) {}
  virtual ~FileSink() = default;
  const SinkSpec& spec() const { return spec_; }
  // Appends this sink's files of batch `batch_id` to `out` (pure: same rows, same files).
  virtual void plan(const BatchRows& rows, const FileLayout& layout, std::string_view query_id, int64_t batch_id,
                    size_t sink_index, std::vector<FileTask>& out) const = 0;
  // The complete bytes of one planned file. Thread-safe.
  virtual Result<std::shared_ptr<arrow::Buffer>> encode(const FileTask& file, const BatchRows& rows) const = 0;

 private:
  SinkSpec spec_;
};

using FileSinks = std::vector<std::unique_ptr<FileSink>>;

// Sinks for the entry's specs: "parquet" (format = its compression), "csv", "dead-letter";
// `topic` goes into dead-letter lines. An unknown name is a fatal error naming it.
Result<FileSinks> make_file_sinks(const std::vector<SinkSpec>& specs, const std::string& topic);

// Every sink's files of the batch, in sink order, then day order, then file order.
std::vector<FileTask> plan_outputs(const FileSinks& sinks, const BatchRows& rows, const FileLayout& layout,
                                   std::string_view query_id, int64_t batch_id);

// Rows [offset, offset + length) of `chunks` as one batch slice: a view into one chunk when they
// lie in one (the common case), else a copy of just those rows.
struct RowsView {
  std::shared_ptr<arrow::RecordBatch> batch;
  int64_t offset = 0;
  int64_t length = 0;
};
Result<RowsView> view_rows(const DayChunks& chunks, int64_t offset, int64_t length);

}  // namespace kpipe
