#include "engine/stream_job.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "common/log.h"
#include "decode/record_decoder.h"
#include "decode/schema.h"
#include "engine/batch_planner.h"
#include "engine/day_partitioner.h"
#include "engine/file_planner.h"
#include "sink/encoders.h"
#include "sink/file_naming.h"

namespace kpipe {

void crash_point(const char* step, int64_t batch_id) {
  static const char* spec = std::getenv("KPIPE_TEST_CRASH_AT");
  if (!spec || !*spec) return;
  std::string_view s(spec);
  std::string_view want_step = s.substr(0, s.find('@'));
  if (want_step != step) return;
  if (auto at = s.find('@'); at != std::string_view::npos) {
    if (std::string(s.substr(at + 1)) != std::to_string(batch_id)) return;
  }
  std::fprintf(stderr, "KPIPE_TEST_CRASH_AT: killing the process at %s of batch %lld\n", step,
               static_cast<long long>(batch_id));
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

namespace {

using Clock = std::chrono::steady_clock;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// The rows of one dt of a batch: one chunk per partition that has rows of that day, in the
// order of the batch's ranges. Files are cut from them as if they were one batch.
using DayChunks = std::vector<std::shared_ptr<arrow::RecordBatch>>;

// What a batch read: one decoded part per partition, in the order of the batch's ranges.
struct DecodedParts {
  std::vector<DecodedBatch> parts;
  int64_t good_rows() const {
    int64_t n = 0;
    for (const auto& p : parts) n += p.rows ? p.rows->num_rows() : 0;
    return n;
  }
};

// Rows [offset, offset + length) of `chunks`: a view into one chunk when they lie in one (the
// common case), else a copy of just those rows.
struct RowsView {
  std::shared_ptr<arrow::RecordBatch> batch;
  int64_t offset = 0;
  int64_t length = 0;
};

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

// One output file of a batch, from plan to final name.
struct FileTask {
  std::string sink;                      // "parquet", "csv", "dead-letter"
  const FileEncoder* encoder = nullptr;  // null for dead-letter
  std::shared_ptr<const DayChunks> rows;
  FileSlice slice;
  std::string dir;       // absolute-or-relative directory of the file
  std::string rel_path;  // path below the sink root, recorded in the commit
  std::string final_name;
  std::string dead_letter_text;  // dead-letter only
  int32_t day = 0;
  int64_t bytes = 0;
};

}  // namespace

struct StreamJob::Impl {
  StreamOptions opt;
  std::shared_ptr<FileSystem> fs;
  std::shared_ptr<JobStatus> status;
  std::unique_ptr<Checkpoint> checkpoint;
  std::unique_ptr<KafkaSource> source;
  Schema schema;
  int partition_column = -1;
  DecodeLimits limits;
  // One decoder per partition: the source interleaves partitions, and the batch's rows are kept
  // in range order (partition by partition), so a re-run writes the same rows into the same
  // files whatever order the fetches complete in. Kept across batches for their buffer sizes.
  std::map<int32_t, std::unique_ptr<RecordDecoder>> decoders;
  std::unique_ptr<FileEncoder> parquet;
  std::unique_ptr<FileEncoder> csv;
  std::string query8;
  std::optional<std::vector<PartitionRange>> initial_ranges;  // STARTING_OFFSETS resolved before the first batch
  std::optional<Clock::time_point> previous_batch_start;
  int64_t batches_since_purge = 0;
  bool more_available = false;  // the last plan left data for an immediate next batch

  Status start();
  Status recover();
  Status clean_temp_files(const std::string& root, bool with_day_dirs);
  Result<std::map<int32_t, Watermarks>> read_watermarks();
  // Plans and runs the next batch; returns rows planned (0 = nothing new).
  Result<int64_t> run_next_batch(const std::map<int32_t, int64_t>& stop_at, const std::atomic<bool>& stop);
  Status execute(const OffsetsEntry& entry, bool replay, const std::atomic<bool>& stop);
  Result<DecodedParts> read_and_decode(const OffsetsEntry& entry, const std::atomic<bool>& stop);
  std::vector<std::string> output_roots() const;
};

StreamJob::StreamJob(StreamOptions options, std::shared_ptr<FileSystem> fs, std::shared_ptr<JobStatus> status)
    : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->fs = std::move(fs);
  impl_->status = std::move(status);
}

StreamJob::~StreamJob() = default;

std::vector<std::string> StreamJob::Impl::output_roots() const {
  std::vector<std::string> roots;
  if (opt.sink_parquet) roots.push_back(opt.output_path);
  if (opt.sink_csv) roots.push_back(opt.csv_output_path);
  return roots;
}

Status StreamJob::Impl::start() {
  KPIPE_ASSIGN_OR_RETURN(schema, parse_ddl(opt.schema));
  KPIPE_ASSIGN_OR_RETURN(partition_column, find_partition_column(schema, opt.partition_from));
  limits.max_record_bytes = static_cast<size_t>(opt.max_record_bytes);
  limits.max_string_bytes = static_cast<size_t>(opt.max_string_bytes);
  KPIPE_ASSIGN_OR_RETURN(Compression compression, parse_compression(opt.parquet_compression));
  parquet = make_parquet_encoder(compression);
  csv = make_csv_encoder();

  KPIPE_ASSIGN_OR_RETURN(checkpoint, Checkpoint::open(fs, opt.checkpoint_path, opt.topic));
  query8 = checkpoint->query_id().substr(0, 8);
  status->set_query_id(checkpoint->query_id());
  log_info("stream", std::string(checkpoint->created_now() ? "new checkpoint " : "checkpoint ") + opt.checkpoint_path +
                         " (query " + checkpoint->query_id() + ")");

  SourceOptions so;
  so.bootstrap_servers = opt.bootstrap_servers;
  so.topic = opt.topic;
  so.kafka_props = opt.kafka_props;
  // Fetched ahead: enough to keep reading while a batch is written (the prefetch thread pauses
  // a partition whose share is full), at most about one batch of the seed's events.
  so.prefetch_bytes = static_cast<size_t>(std::clamp<int64_t>(opt.max_batch_records * 128, 6 << 20, 16 << 20));
  KPIPE_ASSIGN_OR_RETURN(source, KafkaSource::open(so));
  return Status::success();
}

Status StreamJob::Impl::clean_temp_files(const std::string& root, bool with_day_dirs) {
  KPIPE_ASSIGN_OR_RETURN(auto names, fs->list_dir(root));
  for (const auto& n : names) {
    if (is_temp_file_name(n)) {
      KPIPE_RETURN_IF_ERROR(fs->remove(root + "/" + n));
    } else if (with_day_dirs && n.rfind("dt=", 0) == 0) {
      KPIPE_RETURN_IF_ERROR(clean_temp_files(root + "/" + n, false));
    }
  }
  return Status::success();
}

Status StreamJob::Impl::recover() {
  for (const auto& root : output_roots()) KPIPE_RETURN_IF_ERROR(clean_temp_files(root, true));
  KPIPE_RETURN_IF_ERROR(clean_temp_files(opt.dead_letter_path, false));
  KPIPE_RETURN_IF_ERROR(clean_temp_files(opt.checkpoint_path + "/offsets", false));
  KPIPE_RETURN_IF_ERROR(clean_temp_files(opt.checkpoint_path + "/commits", false));
  return Status::success();
}

Result<std::map<int32_t, Watermarks>> StreamJob::Impl::read_watermarks() {
  KPIPE_ASSIGN_OR_RETURN(auto ids, source->partitions());
  return source->watermarks(ids);
}

Result<int64_t> StreamJob::Impl::run_next_batch(const std::map<int32_t, int64_t>& stop_at,
                                                const std::atomic<bool>& stop) {
  if (auto pending = checkpoint->pending_batch()) {
    log_warn("stream", "batch " + std::to_string(pending->batch_id) +
                           " was planned but not committed: running it again with its recorded offsets");
    KPIPE_RETURN_IF_ERROR(execute(*pending, true, stop));
    int64_t rows = 0;
    for (const auto& r : pending->ranges) rows += r.end - r.start;
    return std::max<int64_t>(rows, 1);
  }
  KPIPE_ASSIGN_OR_RETURN(auto marks, read_watermarks());
  PlanInput in;
  in.topic = opt.topic;
  in.partitions = marks;
  if (checkpoint->latest_offsets())
    in.previous = checkpoint->latest_offsets()->ranges;
  else if (initial_ranges)
    in.previous = initial_ranges;
  in.starting = opt.starting_earliest ? StartingOffsets::kEarliest : StartingOffsets::kLatest;
  in.max_offsets_per_trigger = opt.max_offsets_per_trigger;
  in.max_batch_records = opt.max_batch_records;
  in.fail_on_data_loss = opt.fail_on_data_loss;
  in.stop_at = stop_at;
  KPIPE_ASSIGN_OR_RETURN(Plan plan, plan_batch(in));
  more_available = plan.more_available;
  for (const auto& d : plan.data_loss) log_warn("stream", d + " (FAIL_ON_DATA_LOSS=false: skipped)");

  std::vector<PartitionLag> lag;
  for (const auto& r : plan.ranges) lag.push_back(PartitionLag{r.partition, r.start, marks[r.partition].high});
  status->set_lag(lag);

  if (plan.total() == 0) {
    // Nothing to write: no checkpoint entry, no files. Remember where a new checkpoint starts,
    // so data that arrives from now on is read even with STARTING_OFFSETS=latest.
    if (!checkpoint->latest_offsets()) initial_ranges = plan.ranges;
    return int64_t{0};
  }
  OffsetsEntry entry;
  entry.batch_id = checkpoint->latest_offsets() ? checkpoint->latest_offsets()->batch_id + 1 : 0;
  entry.planned_at_ms = wall_ms();
  entry.topic = opt.topic;
  entry.ranges = plan.ranges;
  entry.layout = FileLayout{opt.files_per_partition, opt.max_records_per_file};
  KPIPE_RETURN_IF_ERROR(checkpoint->write_offsets(entry));
  crash_point("after_offsets", entry.batch_id);
  Status st = execute(entry, false, stop);
  if (!st.ok()) return st;
  return plan.total();
}

Result<DecodedParts> StreamJob::Impl::read_and_decode(const OffsetsEntry& entry, const std::atomic<bool>& stop) {
  // Rows of a failed earlier attempt are dropped first.
  for (auto& [p, d] : decoders) {
    if (d->good_rows() > 0 || d->bad_rows() > 0) (void)d->finish();
  }
  for (const auto& r : entry.ranges) {
    auto& d = decoders[r.partition];
    if (!d) d = std::make_unique<RecordDecoder>(schema, partition_column, limits);
  }
  // The source hands over runs of records of one partition: look the decoder up once per run.
  int32_t last_partition = -1;
  RecordDecoder* last = nullptr;
  KPIPE_RETURN_IF_ERROR(source->read(
      entry.ranges,
      [&](const RawRecord& r) {
        if (r.partition != last_partition || last == nullptr) {
          last_partition = r.partition;
          last = decoders.at(r.partition).get();
        }
        last->add(r);
      },
      stop));
  DecodedParts out;
  for (const auto& r : entry.ranges) {
    RecordDecoder& d = *decoders.at(r.partition);
    if (d.good_rows() == 0 && d.bad_rows() == 0) continue;
    KPIPE_ASSIGN_OR_RETURN(DecodedBatch part, d.finish());
    out.parts.push_back(std::move(part));
  }
  return out;
}

Status StreamJob::Impl::execute(const OffsetsEntry& entry, bool replay, const std::atomic<bool>& stop) {
  const auto t_start = Clock::now();
  BatchProgress progress;
  progress.batch_id = entry.batch_id;
  progress.started_at_ms = wall_ms();
  progress.replay = replay;
  progress.ranges = entry.ranges;
  status->set_current_batch(entry.batch_id);

  // 2. read and decode
  KPIPE_ASSIGN_OR_RETURN(DecodedParts batch, read_and_decode(entry, stop));
  crash_point("after_read", entry.batch_id);
  const int64_t t_read = ms_since(t_start);
  const int64_t good = batch.good_rows();
  std::vector<BadRecord> bad;
  for (auto& part : batch.parts) std::move(part.bad.begin(), part.bad.end(), std::back_inserter(bad));
  progress.num_input_rows = good + static_cast<int64_t>(bad.size());

  if (!bad.empty() && opt.on_bad_record == "fail") {
    const BadRecord& b = bad.front();
    return Status::fatal("ON_BAD_RECORD=fail: record " + opt.topic + "/" + std::to_string(b.partition) + " offset " +
                         std::to_string(b.offset) + " does not fit the schema: " + b.reason + " (batch " +
                         std::to_string(entry.batch_id) + " not committed)");
  }

  // 3. plan files and write them under hidden names, in parallel
  const auto t_write = Clock::now();
  std::map<int32_t, std::shared_ptr<DayChunks>> days;
  for (const auto& part : batch.parts) {
    KPIPE_ASSIGN_OR_RETURN(auto split, split_by_day(part.rows, part.dt_days));
    for (auto& d : split) {
      auto& chunks = days[d.day];
      if (!chunks) chunks = std::make_shared<DayChunks>();
      chunks->push_back(std::move(d.rows));
    }
  }
  std::vector<FileTask> tasks;
  auto add_sink = [&](const std::string& sink, const FileEncoder* enc, const std::string& root) {
    for (const auto& [day, chunks] : days) {
      int64_t day_rows = 0;
      for (const auto& c : *chunks) day_rows += c->num_rows();
      std::string day_dir = dt_dir_name(day);
      auto slices = plan_files(day_rows, entry.layout);
      for (size_t k = 0; k < slices.size(); ++k) {
        FileTask t;
        t.sink = sink;
        t.encoder = enc;
        t.rows = chunks;
        t.slice = slices[k];
        t.dir = root + "/" + day_dir;
        t.final_name = final_file_name(query8, entry.batch_id, static_cast<int>(k), enc->extension());
        t.rel_path = day_dir + "/" + t.final_name;
        t.day = day;
        tasks.push_back(std::move(t));
      }
    }
  };
  if (opt.sink_parquet) add_sink("parquet", parquet.get(), opt.output_path);
  if (opt.sink_csv) add_sink("csv", csv.get(), opt.csv_output_path);
  if (!bad.empty() && opt.on_bad_record == "dlq") {
    FileTask t;
    t.sink = "dead-letter";
    t.dir = opt.dead_letter_path;
    t.final_name = final_file_name(query8, entry.batch_id, 0, ".jsonl");
    t.rel_path = t.final_name;
    t.slice = FileSlice{0, static_cast<int64_t>(bad.size())};
    t.dead_letter_text = encode_dead_letter(opt.topic, bad);
    tasks.push_back(std::move(t));
  }
  std::set<std::string> dirs;
  for (const auto& t : tasks) dirs.insert(t.dir);
  for (const auto& d : dirs) KPIPE_RETURN_IF_ERROR(fs->make_dirs(d));

  std::atomic<size_t> next{0};
  auto worker = [&]() -> Status {
    for (size_t i = next++; i < tasks.size(); i = next++) {
      FileTask& t = tasks[i];
      const std::string tmp = t.dir + "/" + temp_file_name(t.final_name);
      if (t.encoder) {
        KPIPE_ASSIGN_OR_RETURN(RowsView view, view_rows(*t.rows, t.slice.offset, t.slice.length));
        KPIPE_ASSIGN_OR_RETURN(auto buf, t.encoder->encode(*view.batch, view.offset, view.length));
        t.bytes = buf->size();
        KPIPE_RETURN_IF_ERROR(
            fs->write_file(tmp, std::string_view(reinterpret_cast<const char*>(buf->data()), buf->size())));
      } else {
        t.bytes = static_cast<int64_t>(t.dead_letter_text.size());
        KPIPE_RETURN_IF_ERROR(fs->write_file(tmp, t.dead_letter_text));
      }
    }
    return Status::success();
  };
  // Twice the cores: a worker waiting for its file's fsync leaves its core to another that
  // encodes (5M events, 2 cores: 4.4 s with 4 workers against 5.0 s with 2).
  const unsigned threads = std::clamp(2 * std::thread::hardware_concurrency(), 2u, 8u);
  std::vector<std::future<Status>> workers;
  for (unsigned i = 1; i < threads && i < tasks.size(); ++i) workers.push_back(std::async(std::launch::async, worker));
  Status write_status = worker();
  for (auto& f : workers) {
    Status s = f.get();
    if (write_status.ok() && !s.ok()) write_status = s;
  }
  if (!write_status.ok()) {
    // A full disk stays full while the partial temp files hold what was left: remove them so
    // the space is back before the retry (best effort; start-up cleanup catches the rest).
    for (const auto& t : tasks) (void)fs->remove(t.dir + "/" + temp_file_name(t.final_name));
    return write_status.with_context("writing batch " + std::to_string(entry.batch_id));
  }
  crash_point("after_temp_files", entry.batch_id);
  const int64_t ms_write = ms_since(t_write);

  // 4. publish: final names, directories synced, leftovers of an earlier attempt removed
  const auto t_publish = Clock::now();
  bool first = true;
  for (const auto& t : tasks) {
    KPIPE_RETURN_IF_ERROR(fs->rename(t.dir + "/" + temp_file_name(t.final_name), t.dir + "/" + t.final_name));
    if (first) crash_point("mid_rename", entry.batch_id);
    first = false;
  }
  if (replay) {
    // An earlier attempt may have published files under names this attempt does not use.
    std::set<std::string> ours;
    for (const auto& t : tasks) ours.insert(t.dir + "/" + t.final_name);
    std::vector<std::string> scan;
    for (const auto& root : output_roots()) {
      KPIPE_ASSIGN_OR_RETURN(auto names, fs->list_dir(root));
      for (const auto& n : names) {
        if (n.rfind("dt=", 0) == 0) scan.push_back(root + "/" + n);
      }
    }
    scan.push_back(opt.dead_letter_path);
    for (const auto& dir : scan) {
      KPIPE_ASSIGN_OR_RETURN(auto names, fs->list_dir(dir));
      for (const auto& n : names) {
        auto id = batch_id_of(n, query8);
        if (id && *id == entry.batch_id && !ours.count(dir + "/" + n)) {
          log_warn("stream", "removing " + dir + "/" + n + ", written by an earlier attempt of batch " +
                                 std::to_string(entry.batch_id));
          KPIPE_RETURN_IF_ERROR(fs->remove(dir + "/" + n));
          dirs.insert(dir);
        }
      }
    }
  }
  for (const auto& d : dirs) KPIPE_RETURN_IF_ERROR(fs->fsync_dir(d));
  crash_point("after_rename", entry.batch_id);
  const int64_t ms_publish = ms_since(t_publish);

  // 5. commit
  const auto t_commit = Clock::now();
  CommitEntry commit;
  commit.batch_id = entry.batch_id;
  commit.committed_at_ms = wall_ms();
  commit.input_rows = progress.num_input_rows;
  commit.output_rows = good;
  commit.dead_letter_rows = opt.on_bad_record == "dlq" ? static_cast<int64_t>(bad.size()) : 0;
  for (const auto& t : tasks) commit.files.push_back(CommittedFile{t.sink, t.rel_path, t.slice.length});
  KPIPE_RETURN_IF_ERROR(checkpoint->write_commit(commit));
  crash_point("after_commit", entry.batch_id);
  if (++batches_since_purge >= 10) {
    batches_since_purge = 0;
    KPIPE_RETURN_IF_ERROR(checkpoint->purge(100));
  }
  const int64_t ms_commit = ms_since(t_commit);

  // progress
  const int64_t total_ms = ms_since(t_start);
  progress.duration_ms = {{"readAndDecode", t_read},
                          {"writeFiles", ms_write},
                          {"publish", ms_publish},
                          {"commit", ms_commit},
                          {"total", total_ms}};
  double since_prev =
      previous_batch_start ? std::chrono::duration<double>(t_start - *previous_batch_start).count() : 0.0;
  previous_batch_start = t_start;
  progress.input_rows_per_second = since_prev > 0 ? progress.num_input_rows / since_prev : 0.0;
  progress.processed_rows_per_second = total_ms > 0 ? progress.num_input_rows * 1000.0 / total_ms : 0.0;
  std::map<std::string, SinkProgress> per_sink;
  std::map<std::pair<std::string, int32_t>, std::pair<int64_t, int64_t>> per_day;
  for (const auto& t : tasks) {
    auto& sp = per_sink[t.sink];
    sp.sink = t.sink;
    sp.rows += t.slice.length;
    sp.files += 1;
    sp.bytes += t.bytes;
    if (t.sink != "dead-letter") {
      auto& cell = per_day[{t.sink, t.day}];
      cell.first += 1;
      cell.second += t.slice.length;
    }
  }
  for (auto& [name, sp] : per_sink) progress.sinks.push_back(sp);
  for (auto& [key, cell] : per_day) progress.outputs.push_back({key.first, key.second, cell.first, cell.second});
  if (opt.on_bad_record == "dlq")
    progress.dead_lettered = static_cast<int64_t>(bad.size());
  else
    progress.skipped_bad = static_cast<int64_t>(bad.size());
  if (opt.sink_console) {
    // Like Spark's console sink: the batch's first rows as a table, then one summary line.
    std::string text = "-------------------------------------------\nBatch: " + std::to_string(entry.batch_id) +
                       "\n-------------------------------------------\n(no rows)\n";
    if (good > 0) {
      // The batch's first rows in range order, and one more, so the table says whether it
      // shows them all.
      DayChunks firsts;
      for (const auto& part : batch.parts) {
        if (part.rows && part.rows->num_rows() > 0) firsts.push_back(part.rows);
      }
      KPIPE_ASSIGN_OR_RETURN(RowsView head, view_rows(firsts, 0, std::min<int64_t>(good, 21)));
      text = format_console_table(entry.batch_id, *head.batch->Slice(head.offset, head.length), 20);
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "Batch %lld%s: %lld rows (%lld bad), input %.1f rows/s, processed %.1f rows/s, %lld ms\n\n",
                  static_cast<long long>(entry.batch_id), replay ? " (re-run)" : "",
                  static_cast<long long>(progress.num_input_rows), static_cast<long long>(bad.size()),
                  progress.input_rows_per_second, progress.processed_rows_per_second, static_cast<long long>(total_ms));
    text += line;
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
  }
  status->add_batch(progress);
  log_raw(progress_json(progress, checkpoint->query_id()));
  return Status::success();
}

Status StreamJob::run(const std::atomic<bool>& stop) {
  Impl& m = *impl_;
  m.status->set_state(JobState::kStarting);
  Status st = m.start();
  if (!st.ok()) {
    m.status->set_state(JobState::kFailed, st.message());
    return st;
  }
  const auto trigger =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m.opt.trigger_seconds));
  std::chrono::milliseconds backoff{500};
  bool recovered = false;
  std::optional<std::map<int32_t, int64_t>> stop_at;  // --once targets
  // --once is for schedulers: a broker that never answers must end the run, not hang it.
  auto last_success = Clock::now();
  const auto once_timeout =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(m.opt.once_timeout_seconds));
  while (!stop.load()) {
    const auto tick = Clock::now();
    Status step;
    int64_t planned = -1;
    if (!recovered) {
      step = m.recover();
      if (step.ok()) recovered = true;
    }
    if (step.ok() && m.opt.once && !stop_at) {
      auto marks = m.read_watermarks();
      if (marks.ok()) {
        stop_at.emplace();
        for (const auto& [p, w] : *marks) (*stop_at)[p] = w.high;
      } else {
        step = marks.status();
      }
    }
    if (step.ok()) {
      auto r = m.run_next_batch(stop_at ? *stop_at : std::map<int32_t, int64_t>{}, stop);
      if (r.ok())
        planned = *r;
      else
        step = r.status();
    }
    if (!step.ok()) {
      m.status->record_error(Status::kind_name(step.kind()));
      if (step.kind() == ErrorKind::kFatal) {
        m.status->set_state(JobState::kFailed, step.message());
        return step;
      }
      if (stop.load()) break;
      if (m.opt.once && m.opt.once_timeout_seconds > 0 && Clock::now() - last_success >= once_timeout) {
        char text[160];
        std::snprintf(text, sizeof text,
                      "--once: giving up after %.0f s of retrying without a batch done (ONCE_TIMEOUT=%g): ",
                      std::chrono::duration<double>(Clock::now() - last_success).count(), m.opt.once_timeout_seconds);
        Status gave_up = Status::fatal(text + step.message());
        m.status->set_state(JobState::kFailed, gave_up.message());
        return gave_up;
      }
      m.status->set_state(JobState::kRetrying, step.message());
      log_warn("stream", step.message() + "; retrying in " + std::to_string(backoff.count()) + " ms");
      auto until = Clock::now() + backoff;
      if (m.opt.once && m.opt.once_timeout_seconds > 0) until = std::min(until, last_success + once_timeout);
      while (!stop.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
      continue;
    }
    backoff = std::chrono::milliseconds(500);
    last_success = Clock::now();
    m.status->set_state(planned > 0 ? JobState::kRunning : JobState::kWaitingForData);
    if (m.opt.once) {
      if (planned == 0) break;
      continue;  // the next capped batch right away
    }
    if (m.more_available) continue;
    // Like Spark's ProcessingTime trigger: batches start every TRIGGER_SECONDS; one that
    // overran starts the next at once.
    auto until = tick + trigger;
    while (!stop.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  m.status->set_state(JobState::kStopped);
  return Status::success();
}

}  // namespace kpipe
