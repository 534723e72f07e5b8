#include "engine/file_sink.h"

#include <algorithm>

#include "sink/encoders.h"
#include "sink/file_naming.h"

namespace kpipe {

int64_t BatchRows::good_rows() const {
  int64_t n = 0;
  for (const auto& [day, chunks] : days) {
    for (const auto& c : *chunks) n += c->num_rows();
  }
  return n;
}

Result<RowsView> view_rows(const DayChunks& chunks, int64_t offset, int64_t length) {
  arrow::RecordBatchVector pieces;
  int64_t skip = offset, left = length;
  for (const auto& chunk : chunks) {
    if (left == 0) break;
    const int64_t n = chunk->num_rows();
    if (skip >= n) {
      skip -= n;
      continue;
    }
    const int64_t take = std::min(n - skip, left);
    if (pieces.empty() && take == left) return RowsView{chunk, skip, take};
    pieces.push_back(chunk->Slice(skip, take));
    left -= take;
    skip = 0;
  }
  auto joined = arrow::ConcatenateRecordBatches(pieces);
  if (!joined.ok()) return Status::retriable("joining rows of two partitions: " + joined.status().ToString());
  return RowsView{*joined, 0, length};
}

namespace {

// Parquet and CSV: the good rows, per dt folder, FILES_PER_PARTITION files of at most
// MAX_RECORDS_PER_FILE rows each.
class TableSink final : public FileSink {
 public:
  TableSink(SinkSpec spec, std::unique_ptr<FileEncoder> encoder)
      : FileSink(std::move(spec)), encoder_(std::move(encoder)) {}

  void plan(const BatchRows& rows, const FileLayout& layout, std::string_view query_id, int64_t batch_id,
            size_t sink_index, std::vector<FileTask>& out) const override {
    for (const auto& [day, chunks] : rows.days) {
      int64_t day_rows = 0;
      for (const auto& c : *chunks) day_rows += c->num_rows();
      const std::string day_dir = dt_dir_name(day);
      const auto slices = plan_files(day_rows, layout);
      for (size_t k = 0; k < slices.size(); ++k) {
        FileTask t;
        t.sink = sink_index;
        t.day = day;
        t.slice = slices[k];
        t.dir = spec().root + "/" + day_dir;
        t.name = final_file_name(query_id, batch_id, static_cast<int>(k), encoder_->extension());
        t.path = day_dir + "/" + t.name;
        out.push_back(std::move(t));
      }
    }
  }

  Result<std::shared_ptr<arrow::Buffer>> encode(const FileTask& file, const BatchRows& rows) const override {
    auto day = rows.days.find(file.day);
    if (day == rows.days.end()) {
      return Status::fatal("internal error: no rows of " + dt_dir_name(file.day) + " for " + file.path,
                           StatusCode::kInternal);
    }
    KPIPE_ASSIGN_OR_RETURN(RowsView view, view_rows(*day->second, file.slice.offset, file.slice.length));
    return encoder_->encode(*view.batch, view.offset, view.length);
  }

 private:
  std::unique_ptr<FileEncoder> encoder_;
};

// The records that did not fit the schema, one JSON-lines file per batch (ON_BAD_RECORD=dlq).
class DeadLetterSink final : public FileSink {
 public:
  DeadLetterSink(SinkSpec spec, std::string topic) : FileSink(std::move(spec)), topic_(std::move(topic)) {}

  void plan(const BatchRows& rows, const FileLayout&, std::string_view query_id, int64_t batch_id, size_t sink_index,
            std::vector<FileTask>& out) const override {
    if (rows.bad.empty()) return;
    FileTask t;
    t.sink = sink_index;
    t.slice = FileSlice{0, static_cast<int64_t>(rows.bad.size())};
    t.dir = spec().root;
    t.name = final_file_name(query_id, batch_id, 0, kDeadLetterExtension);
    t.path = t.name;
    out.push_back(std::move(t));
  }

  Result<std::shared_ptr<arrow::Buffer>> encode(const FileTask&, const BatchRows& rows) const override {
    return std::shared_ptr<arrow::Buffer>(arrow::Buffer::FromString(encode_dead_letter(topic_, rows.bad)));
  }

 private:
  std::string topic_;
};

}  // namespace

Result<FileSinks> make_file_sinks(const std::vector<SinkSpec>& specs, const std::string& topic) {
  FileSinks sinks;
  for (const auto& spec : specs) {
    if (spec.name == kParquetSink) {
      KPIPE_ASSIGN_OR_RETURN(Compression c, parse_compression(spec.format));
      sinks.push_back(std::make_unique<TableSink>(spec, make_parquet_encoder(c)));
    } else if (spec.name == kCsvSink) {
      sinks.push_back(std::make_unique<TableSink>(spec, make_csv_encoder()));
    } else if (spec.name == kDeadLetterSink) {
      sinks.push_back(std::make_unique<DeadLetterSink>(spec, topic));
    } else {
      return Status::fatal("unknown sink '" + spec.name + "' in a checkpoint entry (this kpipe writes parquet, csv " +
                               "and dead-letter)",
                           StatusCode::kInvalidArgument);
    }
  }
  return sinks;
}

std::vector<FileTask> plan_outputs(const FileSinks& sinks, const BatchRows& rows, const FileLayout& layout,
                                   std::string_view query_id, int64_t batch_id) {
  std::vector<FileTask> tasks;
  for (size_t i = 0; i < sinks.size(); ++i) sinks[i]->plan(rows, layout, query_id, batch_id, i, tasks);
  return tasks;
}

}  // namespace kpipe
