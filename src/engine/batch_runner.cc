#include "engine/batch_runner.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <set>

#include "common/log.h"
#include "common/time_util.h"
#include "decode/kafka_columns.h"
#include "decode/schema.h"
#include "delta/delta_stats.h"
#include "engine/day_completion.h"
#include "engine/day_partitioner.h"
#include "engine/stream_job.h"
#include "sink/encoders.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

int64_t ms_since(SteadyTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t).count();
}

std::vector<CommittedFile> recorded_files(const std::vector<FileTask>& tasks, const FileSinks& sinks) {
  std::vector<CommittedFile> files;
  files.reserve(tasks.size());
  for (const auto& t : tasks) {
    files.push_back(CommittedFile{sinks[t.sink]->spec().name, t.path, t.slice.length, t.bytes, t.stats});
  }
  return files;
}

}  // namespace

std::vector<SinkSpec> sink_specs(const StreamOptions& opt) {
  std::vector<SinkSpec> specs;
  if (opt.sink_parquet) {
    // The canonical compression name, so "SNAPPY" and "snappy" record the same entry.
    auto c = parse_compression(opt.parquet_compression);
    std::string format = !c.ok()                      ? opt.parquet_compression
                         : *c == Compression::kSnappy ? "snappy"
                         : *c == Compression::kZstd   ? "zstd"
                                                      : "none";
    specs.push_back(SinkSpec{std::string(kParquetSink), opt.output_path, format});
  }
  if (opt.sink_csv) specs.push_back(SinkSpec{std::string(kCsvSink), opt.csv_output_path, ""});
  if (opt.on_bad_record == "dlq") specs.push_back(SinkSpec{std::string(kDeadLetterSink), opt.dead_letter_path, ""});
  return specs;
}

DecodeSpec decode_spec(const StreamOptions& opt) {
  return DecodeSpec{opt.schema,           opt.partition_from,   opt.on_bad_record,
                    opt.max_record_bytes, opt.max_string_bytes, opt.kafka_columns};
}

Result<std::unique_ptr<Decoding>> make_decoding(const DecodeSpec& spec) {
  auto d = std::make_unique<Decoding>();
  d->spec = spec;
  auto schema = parse_ddl(spec.schema);
  if (!schema.ok()) return Status::fatal(schema.status().message(), StatusCode::kInvalidArgument);  // "SCHEMA: ..."
  d->schema = std::move(schema).value();
  KPIPE_RETURN_IF_ERROR(add_kafka_columns(d->schema, spec.kafka_columns));
  auto column = resolve_partition_from(d->schema, spec.partition_from);
  if (!column.ok()) return Status::fatal(column.status().message(), StatusCode::kInvalidArgument);
  d->partition_column = *column;
  d->limits.max_record_bytes = static_cast<size_t>(spec.max_record_bytes);
  d->limits.max_string_bytes = static_cast<size_t>(spec.max_string_bytes);
  return d;
}

struct BatchRunner::Batch {
  OffsetsEntry entry;
  bool replay = false;
  FileSinks sinks;
  BatchRows rows;
  std::vector<std::shared_ptr<arrow::RecordBatch>> parts;  // good rows per partition, range order
  std::vector<FileTask> tasks;
  SteadyTime started = std::chrono::steady_clock::now();
  int64_t started_wall_ms = wall_clock_ms();
  int64_t ms_read = 0, ms_write = 0, ms_publish = 0, ms_commit = 0;
  std::vector<std::string> data_loss;
  std::map<int32_t, int64_t> max_event_us;  // partition → largest event time of its good rows
};

BatchRunner::BatchRunner(const StreamOptions& options, std::unique_ptr<Decoding> decoding, BatchSeams seams)
    : opt_(options), decoding_(std::move(decoding)), seams_(std::move(seams)) {
  if (!seams_.crash) {
    seams_.crash = [](const char* step, int64_t batch_id) {
      crash_point(step, batch_id);
      return Status::success();
    };
  }
}

Status BatchRunner::crash(const char* step, int64_t batch_id) const { return seams_.crash(step, batch_id); }

Result<BatchRows> BatchRunner::read_and_decode(std::vector<PartitionRange>& ranges, int64_t max_bytes,
                                               Decoding& decoding, const std::atomic<bool>& stop,
                                               std::vector<std::shared_ptr<arrow::RecordBatch>>& parts,
                                               std::map<int32_t, int64_t>& max_event_us) {
  // Rows of a failed earlier attempt are dropped first.
  for (auto& [p, d] : decoding.decoders) {
    if (d->good_rows() > 0 || d->bad_rows() > 0) (void)d->finish();
  }
  for (const auto& r : ranges) {
    auto& d = decoding.decoders[r.partition];
    if (!d) d = std::make_unique<RecordDecoder>(decoding.schema, decoding.partition_column, decoding.limits);
  }
  // The source hands over runs of records of one partition: look the decoder up once per run.
  int32_t last_partition = -1;
  RecordDecoder* last = nullptr;
  KPIPE_RETURN_IF_ERROR(seams_.source->read_upto(
      ranges, max_bytes,
      [&](const RawRecord& r) {
        if (r.partition != last_partition || last == nullptr) {
          last_partition = r.partition;
          last = decoding.decoders.at(r.partition).get();
        }
        last->add(r);
      },
      stop));
  BatchRows rows;
  std::map<int32_t, std::shared_ptr<DayChunks>> days;
  for (const auto& r : ranges) {
    RecordDecoder& d = *decoding.decoders.at(r.partition);
    if (d.good_rows() == 0 && d.bad_rows() == 0) continue;
    KPIPE_ASSIGN_OR_RETURN(DecodedBatch part, d.finish());
    std::move(part.bad.begin(), part.bad.end(), std::back_inserter(rows.bad));
    if (!part.rows || part.rows->num_rows() == 0) continue;
    parts.push_back(part.rows);
    // The partition's event-time watermark, which the decoder keeps: with PARTITION_FROM=timestamp
    // the event time is the Kafka record's, in no column.
    if (opt_.dt_complete_after_seconds > 0) max_event_us[r.partition] = part.max_event_us;
    KPIPE_ASSIGN_OR_RETURN(auto split, split_by_day(part.rows, part.dt_days));
    for (auto& day : split) {
      auto& chunks = days[day.day];
      if (!chunks) chunks = std::make_shared<DayChunks>();
      chunks->push_back(std::move(day.rows));
    }
  }
  for (auto& [day, chunks] : days) rows.days.emplace(day, std::move(chunks));
  return rows;
}

Status BatchRunner::check_fence(const OffsetsEntry& e) const {
  if (!seams_.fence) return Status::success();
  // The offsets the checkpoint has committed (this batch's starts): the fence's consumer group
  // shows them to Kafka's own tools.
  std::vector<std::pair<int32_t, int64_t>> offsets;
  for (const auto& r : e.ranges) offsets.emplace_back(r.partition, r.start);
  Status st = seams_.fence->check(opt_.topic, offsets);
  if (!st.ok()) st.with_context("batch " + std::to_string(e.batch_id) + " not written");
  return st;
}

Status BatchRunner::check_bad_records(const BatchRows& rows, const DecodeSpec& spec, int64_t batch_id) const {
  if (rows.bad.empty() || spec.on_bad_record != "fail") return Status::success();
  const BadRecord& b = rows.bad.front();
  return Status::fatal("ON_BAD_RECORD=fail: record " + opt_.topic + "/" + std::to_string(b.partition) + " offset " +
                       std::to_string(b.offset) + " does not fit the schema: " + b.reason + " (batch " +
                       std::to_string(batch_id) + " not committed)");
}

DayPlan BatchRunner::plan_days_of(const Batch& b, const std::map<int32_t, bool>& caught_up) const {
  const auto& last = seams_.checkpoint->latest_offsets();
  const DayState before = last && last->days ? last->days->after : DayState{};
  BatchDays batch;
  batch.max_event_us = b.max_event_us;
  for (const auto& [day, chunks] : b.rows.days) {
    int64_t n = 0;
    for (const auto& c : *chunks) n += c->num_rows();
    batch.rows_per_day[day] = n;
  }
  // A late day has its marker unless it held no output when it completed: look in every root.
  const std::vector<SinkSpec> specs = sink_specs(opt_);
  auto has_marker = [&](int32_t day) {
    for (const auto& s : specs) {
      if (s.name == kDeadLetterSink) continue;
      if (!seams_.fs->exists(s.root + "/" + dt_dir_name(day) + "/" + kDayMarkerName)) return false;
    }
    return true;
  };
  const int64_t lateness_us = opt_.dt_complete_after_seconds * 1000 * 1000;
  return plan_days(before, batch, caught_up, lateness_us, day_clock_us(), has_marker);
}

bool BatchRunner::days_due(const std::map<int32_t, bool>& caught_up) const {
  if (opt_.dt_complete_after_seconds <= 0) return false;
  const auto& last = seams_.checkpoint->latest_offsets();
  if (!last || !last->days || last->days->after.open_days.empty()) return false;
  Batch empty;
  return !plan_days_of(empty, caught_up).completed.empty();
}

Status BatchRunner::run_new(int64_t batch_id, std::vector<PartitionRange>& ranges,
                            const std::vector<std::string>& data_loss, const std::vector<PartitionRange>& skipped,
                            const std::map<int32_t, bool>& planned_caught_up, const std::atomic<bool>& stop,
                            const std::map<int32_t, int64_t>& epochs) {
  Batch b;
  b.data_loss = data_loss;
  for (const auto& o : *seams_.observers) o->on_started(batch_id, false);
  std::vector<PartitionRange> read = ranges;  // `ranges` stays the plan until the entry records `read`
  KPIPE_ASSIGN_OR_RETURN(b.rows,
                         read_and_decode(read, opt_.max_batch_bytes, *decoding_, stop, b.parts, b.max_event_us));
  // MAX_BATCH_BYTES ended the read early: the batch is what was read; a partition it cut short
  // is not caught up.
  std::map<int32_t, bool> caught_up = planned_caught_up;
  for (size_t i = 0; i < read.size(); ++i) {
    if (read[i].end < ranges[i].end) caught_up[read[i].partition] = false;
  }
  b.ms_read = ms_since(b.started);
  KPIPE_RETURN_IF_ERROR(crash("after_read", batch_id));
  KPIPE_RETURN_IF_ERROR(check_bad_records(b.rows, decoding_->spec, batch_id));

  OffsetsEntry& e = b.entry;
  e.batch_id = batch_id;
  e.planned_at_ms = wall_clock_ms();
  e.topic = opt_.topic;
  e.ranges = read;
  e.layout = FileLayout{opt_.files_per_partition, opt_.max_records_per_file};
  e.sinks = sink_specs(opt_);
  e.decode = decoding_->spec;
  e.skipped = skipped;
  e.epochs = epochs;
  KPIPE_ASSIGN_OR_RETURN(b.sinks, make_file_sinks(e.sinks, opt_.topic));
  b.tasks = plan_outputs(b.sinks, b.rows, e.layout, seams_.checkpoint->query_id(), batch_id);
  e.files = recorded_files(b.tasks, b.sinks);
  if (opt_.dt_complete_after_seconds > 0) e.days = plan_days_of(b, caught_up);
  KPIPE_RETURN_IF_ERROR(check_fence(e));
  KPIPE_RETURN_IF_ERROR(seams_.checkpoint->write_offsets(e));
  ranges = read;  // recorded: from here on, this is the batch
  KPIPE_RETURN_IF_ERROR(crash("after_offsets", batch_id));
  return finish(b, {});
}

Status BatchRunner::replay(const OffsetsEntry& entry, const std::atomic<bool>& stop) {
  Batch b;
  b.replay = true;
  b.entry = entry;
  OffsetsEntry& e = b.entry;
  if (e.sinks.empty() && !e.decode) {
    // An entry of kpipe 0.1 recorded ranges and layout only: the settings in force fill the rest.
    e.sinks = sink_specs(opt_);
    e.decode = decoding_->spec;
  }
  for (const auto& o : *seams_.observers) o->on_started(e.batch_id, true);
  Decoding* decoding = decoding_.get();
  std::unique_ptr<Decoding> recorded;
  if (e.decode && *e.decode != decoding_->spec) {
    log_warn("stream", "batch " + std::to_string(e.batch_id) + " was planned with other decode settings (fingerprint " +
                           e.decode->fingerprint() + ", now " + decoding_->spec.fingerprint() +
                           "): finishing it with the recorded ones; the new ones apply from the next batch");
    KPIPE_ASSIGN_OR_RETURN(recorded, make_decoding(*e.decode));
    decoding = recorded.get();
  }
  // Exactly the recorded ranges, whatever MAX_BATCH_BYTES says now.
  KPIPE_ASSIGN_OR_RETURN(b.rows, read_and_decode(e.ranges, 0, *decoding, stop, b.parts, b.max_event_us));
  b.ms_read = ms_since(b.started);
  KPIPE_RETURN_IF_ERROR(crash("after_read", e.batch_id));
  KPIPE_RETURN_IF_ERROR(check_bad_records(b.rows, *e.decode, e.batch_id));
  KPIPE_ASSIGN_OR_RETURN(b.sinks, make_file_sinks(e.sinks, opt_.topic));
  b.tasks = plan_outputs(b.sinks, b.rows, e.layout, seams_.checkpoint->query_id(), e.batch_id);
  return finish(b, entry.files);
}

Status BatchRunner::finish(Batch& b, const std::vector<CommittedFile>& recorded) {
  const int64_t id = b.entry.batch_id;
  const auto t_write = std::chrono::steady_clock::now();
  KPIPE_RETURN_IF_ERROR(write_hidden(b));
  b.ms_write = ms_since(t_write);
  KPIPE_RETURN_IF_ERROR(crash("after_temp_files", id));
  const auto t_publish = std::chrono::steady_clock::now();
  KPIPE_RETURN_IF_ERROR(publish(b, recorded));
  b.ms_publish = ms_since(t_publish);
  KPIPE_RETURN_IF_ERROR(crash("after_rename", id));
  KPIPE_RETURN_IF_ERROR(write_markers(b));
  if (b.entry.days && !b.entry.days->completed.empty()) KPIPE_RETURN_IF_ERROR(crash("after_markers", id));
  const auto t_commit = std::chrono::steady_clock::now();
  KPIPE_RETURN_IF_ERROR(commit(b));
  b.ms_commit = ms_since(t_commit);
  KPIPE_RETURN_IF_ERROR(crash("after_commit", id));
  observe(b);
  return Status::success();
}

Status BatchRunner::write_hidden(Batch& b) {
  std::set<std::string> dirs;
  for (const auto& t : b.tasks) dirs.insert(t.dir);
  for (const auto& d : dirs) KPIPE_RETURN_IF_ERROR(seams_.fs->make_dirs(d));
  FileSystem& fs = *seams_.fs;
  // The footer statistics go into the Delta table's add actions (minValues, maxValues, nullCount).
  const bool with_stats = opt_.sink_parquet && opt_.parquet_table_format == "delta";
  Status st = seams_.pool->run(b.tasks.size(), [&](size_t i) -> Status {
    FileTask& t = b.tasks[i];
    KPIPE_ASSIGN_OR_RETURN(auto buf, b.sinks[t.sink]->encode(t, b.rows));
    t.bytes = buf->size();
    if (with_stats && b.sinks[t.sink]->spec().name == kParquetSink) {
      KPIPE_ASSIGN_OR_RETURN(t.stats, delta_file_stats(*buf));
    }
    // An object store has no rename: the file goes under its final name (an upload is visible
    // whole or not at all), and the batch is visible to table readers by its Delta commit.
    const std::string name = fs.is_object_store(t.dir) ? t.name : temp_file_name(t.name);
    return fs.write_file(t.dir + "/" + name, std::string_view(reinterpret_cast<const char*>(buf->data()), buf->size()));
  });
  if (!st.ok()) {
    // A full disk stays full while the partial temp files hold what was left: remove them so
    // the space is back before the retry (best effort; start-up cleanup catches the rest).
    for (const auto& t : b.tasks) {
      if (!fs.is_object_store(t.dir)) (void)fs.remove(t.dir + "/" + temp_file_name(t.name));
    }
    return st.with_context("writing batch " + std::to_string(b.entry.batch_id));
  }
  return Status::success();
}

Status BatchRunner::publish(Batch& b, const std::vector<CommittedFile>& recorded) {
  FileSystem& fs = *seams_.fs;
  // The batch's files by directory, in plan order: a batch that spans many days has a directory
  // per day and sink, and its renames and directory fsyncs wait on the disk, so the pool takes
  // them a directory at a time (365 days: 730 directories a batch).
  std::map<std::string, std::vector<const FileTask*>> by_dir;
  for (const auto& t : b.tasks) by_dir[t.dir].push_back(&t);
  auto rename_one = [&](const FileTask& t) -> Status {
    if (fs.is_object_store(t.dir)) return Status::success();
    return fs.rename(t.dir + "/" + temp_file_name(t.name), t.dir + "/" + t.name);
  };
  if (!b.tasks.empty()) {
    KPIPE_RETURN_IF_ERROR(rename_one(b.tasks.front()));
    KPIPE_RETURN_IF_ERROR(crash("mid_rename", b.entry.batch_id));
  }
  std::vector<const std::vector<const FileTask*>*> groups;
  for (const auto& [dir, tasks] : by_dir) groups.push_back(&tasks);
  KPIPE_RETURN_IF_ERROR(seams_.pool->run(groups.size(), [&](size_t i) -> Status {
    for (const FileTask* t : *groups[i]) {
      if (t != &b.tasks.front()) KPIPE_RETURN_IF_ERROR(rename_one(*t));
    }
    return fs.fsync_dir(groups[i]->front()->dir);
  }));
  std::set<std::string> dirs;
  // Files the write-ahead entry planned that this attempt does not write (its plan differs from
  // the recorded one, e.g. the topic's data under these offsets changed): an earlier attempt may
  // have published them, and nothing will commit them.
  std::set<std::pair<std::string, std::string>> ours;
  for (const auto& t : b.tasks) ours.emplace(b.sinks[t.sink]->spec().name, t.path);
  for (const auto& f : recorded) {
    if (ours.count({f.sink, f.path})) continue;
    auto sink =
        std::find_if(b.entry.sinks.begin(), b.entry.sinks.end(), [&](const SinkSpec& s) { return s.name == f.sink; });
    if (sink == b.entry.sinks.end()) continue;
    const std::string path = sink->root + "/" + f.path;
    const std::string dir = path.substr(0, path.rfind('/'));
    log_warn("stream", "removing " + path + ": planned by batch " + std::to_string(b.entry.batch_id) +
                           "'s write-ahead entry, not written by its re-run");
    KPIPE_RETURN_IF_ERROR(fs.remove(path));
    if (!fs.is_object_store(dir)) {
      KPIPE_RETURN_IF_ERROR(fs.remove(dir + "/" + temp_file_name(path.substr(dir.size() + 1))));
    }
    dirs.insert(dir);
  }
  for (const auto& d : dirs) KPIPE_RETURN_IF_ERROR(fs.fsync_dir(d));
  return Status::success();
}

// After the files, so a scheduler that sees dt=D/_SUCCESS finds every file of D; before the
// commit, so a crash in between replays the batch, which creates the same markers again (same
// bytes: create_atomically accepts them) — never a second marker, never a forgotten one.
Status BatchRunner::write_markers(const Batch& b) {
  if (!b.entry.days) return Status::success();
  FileSystem& fs = *seams_.fs;
  for (int32_t day : b.entry.days->completed) {
    const std::string body =
        day_marker_body(seams_.checkpoint->query_id(), b.entry.batch_id, day, b.entry.planned_at_ms);
    for (const auto& s : b.entry.sinks) {
      if (s.name == kDeadLetterSink) continue;
      const std::string dir = s.root + "/" + dt_dir_name(day);
      KPIPE_RETURN_IF_ERROR(fs.make_dirs(dir));
      Status st = create_atomically(fs, dir, kDayMarkerName, body);
      // Another batch's marker (a late day's, made by an earlier batch): the day has one already.
      if (st.code() == StatusCode::kAlreadyExists) continue;
      KPIPE_RETURN_IF_ERROR(st.with_context("writing " + dir + "/" + kDayMarkerName));
    }
    log_info("stream", dt_dir_name(day) + " is complete (DT_COMPLETE_AFTER): wrote its " + kDayMarkerName +
                           " markers in batch " + std::to_string(b.entry.batch_id));
  }
  return Status::success();
}

Status BatchRunner::commit(Batch& b) {
  CommitEntry c;
  c.batch_id = b.entry.batch_id;
  c.committed_at_ms = wall_clock_ms();
  c.output_rows = b.rows.good_rows();
  c.input_rows = c.output_rows + static_cast<int64_t>(b.rows.bad.size());
  c.dead_letter_rows = b.entry.decode->on_bad_record == "dlq" ? static_cast<int64_t>(b.rows.bad.size()) : 0;
  c.files = recorded_files(b.tasks, b.sinks);
  if (b.entry.days) c.completed_days = b.entry.days->completed;
  KPIPE_RETURN_IF_ERROR(check_fence(b.entry));
  KPIPE_RETURN_IF_ERROR(commit_batch(*seams_.committers, b.entry, c, [&](const Committer& done) {
    return done.name() == "delta" ? crash("after_delta_commit", c.batch_id) : Status::success();
  }));
  if (c.batch_id % 10 == 9) KPIPE_RETURN_IF_ERROR(seams_.checkpoint->purge(100));
  return Status::success();
}

void BatchRunner::observe(const Batch& b) {
  BatchProgress p;
  p.batch_id = b.entry.batch_id;
  p.started_at_ms = b.started_wall_ms;
  p.replay = b.replay;
  p.ranges = b.entry.ranges;
  p.data_loss = b.data_loss;
  const int64_t bad = static_cast<int64_t>(b.rows.bad.size());
  p.num_input_rows = b.rows.good_rows() + bad;
  const int64_t total_ms = ms_since(b.started);
  p.duration_ms = {{"readAndDecode", b.ms_read},
                   {"writeFiles", b.ms_write},
                   {"publish", b.ms_publish},
                   {"commit", b.ms_commit},
                   {"total", total_ms}};
  const double since_prev = previous_start_ ? std::chrono::duration<double>(b.started - *previous_start_).count() : 0.0;
  previous_start_ = b.started;
  p.input_rows_per_second = since_prev > 0 ? p.num_input_rows / since_prev : 0.0;
  p.processed_rows_per_second = total_ms > 0 ? p.num_input_rows * 1000.0 / total_ms : 0.0;
  std::map<std::string, SinkProgress> per_sink;
  std::map<std::pair<std::string, int32_t>, std::pair<int64_t, int64_t>> per_day;
  for (const auto& t : b.tasks) {
    const std::string& name = b.sinks[t.sink]->spec().name;
    auto& sp = per_sink[name];
    sp.sink = name;
    sp.rows += t.slice.length;
    sp.files += 1;
    sp.bytes += t.bytes;
    if (name != kDeadLetterSink) {
      auto& cell = per_day[{name, t.day}];
      cell.first += 1;
      cell.second += t.slice.length;
    }
  }
  for (auto& [name, sp] : per_sink) p.sinks.push_back(sp);
  for (auto& [key, cell] : per_day) p.outputs.push_back({key.first, key.second, cell.first, cell.second});
  if (b.entry.days) {
    p.late_rows = b.entry.days->late_rows;
    p.completed_days = b.entry.days->completed;
    p.complete_through = b.entry.days->after.complete_through;
  }
  if (b.entry.decode->on_bad_record == "dlq")
    p.dead_lettered = bad;
  else
    p.skipped_bad = bad;
  const CommittedBatch done{p, b.parts, bad, total_ms, b.rows.bad.empty() ? nullptr : &b.rows.bad.front()};
  for (const auto& o : *seams_.observers) o->on_committed(done);
}

}  // namespace kpipe
