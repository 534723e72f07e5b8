#include "engine/checkpoint.h"

#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <random>
#include <set>

#include "common/json_writer.h"
#include "common/log.h"
#include "common/time_format.h"
#include "common/time_util.h"
#include "decode/timestamp.h"

namespace kpipe {
namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "unknown-host";
  return buf;
}

std::string new_writer_id() {
  return std::to_string(::getpid()) + "@" + host_name() + "/" + new_query_id().substr(0, 8);
}

Status already_written(std::string_view entry, const std::string& dir, int64_t batch_id) {
  return Status::fatal(std::string(entry) + "/" + std::to_string(batch_id) + " of CHECKPOINT_PATH=" + dir +
                           " was created by another writer: a second kpipe stream is using this checkpoint. This one "
                           "stops without committing batch " +
                           std::to_string(batch_id) + "; run one kpipe stream per CHECKPOINT_PATH",
                       StatusCode::kAlreadyExists);
}

Status corrupt(std::string_view file, std::string_view what) {
  return Status::fatal("checkpoint entry " + std::string(file) + " is damaged (" + std::string(what) +
                       "); it was not written by kpipe or was cut short. Restore it, or start over "
                       "with a new CHECKPOINT_PATH (and new output paths) — nothing was deleted.");
}

// Reads non-negative integer file names ("17") of a log folder, sorted ascending.
Result<std::vector<int64_t>> list_log(FileSystem& fs, const std::string& dir) {
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir));
  std::vector<int64_t> ids;
  for (const auto& n : names) {
    if (n.empty() || n.size() > 18 || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;  // temp files and strangers are not entries
    }
    ids.push_back(std::stoll(n));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Every number in an entry (ids, offsets, counts, times, partitions) is non-negative and fits
// its field: a value a damaged file makes negative or truncates would make a re-run read the
// wrong offsets.
template <typename T>
Status get_int(simdjson::dom::element obj, const char* key, T& out, std::string_view file) {
  int64_t v;
  if (obj[key].get_int64().get(v) != simdjson::SUCCESS) return corrupt(file, std::string("field '") + key + "'");
  if (v < 0 || v > std::numeric_limits<T>::max()) {
    return corrupt(file, std::string("field '") + key + "' out of range: " + std::to_string(v));
  }
  out = static_cast<T>(v);
  return Status::success();
}

Status get_str(simdjson::dom::element obj, const char* key, std::string& out, std::string_view file) {
  std::string_view v;
  if (obj[key].get_string().get(v) != simdjson::SUCCESS) return corrupt(file, std::string("field '") + key + "'");
  out.assign(v);
  return Status::success();
}

// Offset ranges, both ways: the batch's `ranges` and the `skipped` ones of FAIL_ON_DATA_LOSS=false.
void write_ranges(JsonWriter& w, const char* key, const std::vector<PartitionRange>& ranges) {
  w.key(key).begin_array();
  for (const auto& r : ranges) {
    w.begin_object().field("partition", r.partition).field("start", r.start).field("end", r.end).end_object();
  }
  w.end_array();
}

// `what` names the range in the error: "a range ends before it starts".
Result<PartitionRange> read_range(simdjson::dom::element r, const char* what, std::string_view file) {
  PartitionRange pr;
  KPIPE_RETURN_IF_ERROR(get_int(r, "partition", pr.partition, file));
  KPIPE_RETURN_IF_ERROR(get_int(r, "start", pr.start, file));
  KPIPE_RETURN_IF_ERROR(get_int(r, "end", pr.end, file));
  if (pr.end < pr.start) return corrupt(file, std::string("a ") + what + " ends before it starts");
  return pr;
}

Result<simdjson::dom::element> parse_object(simdjson::dom::parser& parser, std::string_view json,
                                            std::string_view file) {
  simdjson::dom::element doc;
  auto err = parser.parse(json.data(), json.size()).get(doc);
  if (err) return corrupt(file, std::string("not JSON: ") + simdjson::error_message(err));
  if (!doc.is_object()) return corrupt(file, "not a JSON object");
  int64_t version;
  if (doc["version"].get_int64().get(version) != simdjson::SUCCESS) return corrupt(file, "no version");
  if (version != kCheckpointVersion) {
    return Status::fatal("checkpoint entry " + std::string(file) + " has format version " + std::to_string(version) +
                         "; this kpipe reads version " + std::to_string(kCheckpointVersion));
  }
  return doc;
}

}  // namespace

// "pid 1234 on host h, started 2026-12-01T23:10:00.000Z": what a second writer's error shows.
std::string owner_line() {
  char when[40];
  char* end = format_timestamp(wall_clock_ms() * 1000, TimestampStyle::kIsoUtcMillis, when);
  return "pid " + std::to_string(::getpid()) + " on host " + host_name() + ", started " + std::string(when, end);
}

std::string new_query_id() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd() ^ static_cast<uint64_t>(wall_clock_ms()));
  uint64_t a = gen(), b = gen();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

namespace {

void write_files(JsonWriter& w, const std::vector<CommittedFile>& files) {
  w.key("files").begin_array();
  for (const auto& f : files) {
    w.begin_object().field("sink", f.sink).field("path", f.path).field("rows", f.rows).end_object();
  }
  w.end_array();
}

Status read_files(simdjson::dom::element doc, std::vector<CommittedFile>& out, std::string_view file) {
  simdjson::dom::array files;
  if (doc["files"].get_array().get(files) != simdjson::SUCCESS) return corrupt(file, "field 'files'");
  for (auto f : files) {
    CommittedFile cf;
    KPIPE_RETURN_IF_ERROR(get_str(f, "sink", cf.sink, file));
    KPIPE_RETURN_IF_ERROR(get_str(f, "path", cf.path, file));
    KPIPE_RETURN_IF_ERROR(get_int(f, "rows", cf.rows, file));
    out.push_back(std::move(cf));
  }
  return Status::success();
}

void write_days(JsonWriter& w, const char* key, const std::vector<int32_t>& days) {
  w.key(key).begin_array();
  char buf[16];
  for (int32_t d : days) w.value(std::string_view(buf, format_date(d, buf) - buf));
  w.end_array();
}

Status read_days(simdjson::dom::element obj, const char* key, std::vector<int32_t>& out, std::string_view file) {
  simdjson::dom::array days;
  if (obj[key].get_array().get(days) != simdjson::SUCCESS) return corrupt(file, std::string("field '") + key + "'");
  for (auto d : days) {
    std::string_view text;
    std::optional<int32_t> day;
    if (d.get_string().get(text) == simdjson::SUCCESS) day = parse_date_days(text);
    if (!day) return corrupt(file, std::string("a day of '") + key + "' is not YYYY-MM-DD");
    out.push_back(*day);
  }
  return Status::success();
}

void write_day_plan(JsonWriter& w, const DayPlan& p) {
  w.key("days").begin_object();
  if (p.after.complete_through) {
    char buf[16];
    w.field("completeThrough", std::string_view(buf, format_date(*p.after.complete_through, buf) - buf));
  }
  write_days(w, "openDays", p.after.open_days);
  write_days(w, "completed", p.completed);
  w.field("lateRows", p.late_rows);
  w.key("watermarks").begin_array();
  for (const auto& [partition, us] : p.after.watermarks_us) {
    w.begin_object().field("partition", partition).field("eventTimeUs", us).end_object();
  }
  w.end_array().end_object();
}

Status read_day_plan(simdjson::dom::element days, DayPlan& p, std::string_view file) {
  std::string_view through;
  auto field = days["completeThrough"];
  if (field.error() != simdjson::NO_SUCH_FIELD) {
    if (field.get_string().get(through) != simdjson::SUCCESS || !parse_date_days(through)) {
      return corrupt(file, "field 'completeThrough'");
    }
    p.after.complete_through = parse_date_days(through);
  }
  KPIPE_RETURN_IF_ERROR(read_days(days, "openDays", p.after.open_days, file));
  KPIPE_RETURN_IF_ERROR(read_days(days, "completed", p.completed, file));
  KPIPE_RETURN_IF_ERROR(get_int(days, "lateRows", p.late_rows, file));
  simdjson::dom::array marks;
  if (days["watermarks"].get_array().get(marks) != simdjson::SUCCESS) return corrupt(file, "field 'watermarks'");
  for (auto m : marks) {
    int32_t partition;
    int64_t us;
    KPIPE_RETURN_IF_ERROR(get_int(m, "partition", partition, file));
    // Event times before 1970 are negative: read without get_int's non-negative check.
    if (m["eventTimeUs"].get_int64().get(us) != simdjson::SUCCESS) return corrupt(file, "field 'eventTimeUs'");
    p.after.watermarks_us[partition] = us;
  }
  return Status::success();
}

}  // namespace

std::string DecodeSpec::fingerprint() const {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](std::string_view bytes) {
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
    h = (h ^ 0xff) * 0x100000001b3ULL;  // field separator: ("ab","c") and ("a","bc") differ
  };
  mix(schema);
  mix(partition_from);
  mix(on_bad_record);
  mix(std::to_string(max_record_bytes));
  mix(std::to_string(max_string_bytes));
  if (!kafka_columns.empty()) mix(kafka_columns);  // absent before KAFKA_COLUMNS: old fingerprints hold
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string serialize_offsets(const OffsetsEntry& e) {
  JsonWriter w;
  w.begin_object()
      .field("version", static_cast<int64_t>(kCheckpointVersion))
      .field("batchId", e.batch_id)
      .field("plannedAtMs", e.planned_at_ms)
      .field("topic", e.topic)
      .field("writer", e.writer)
      .field("filesPerPartition", e.layout.files_per_partition)
      .field("maxRecordsPerFile", e.layout.max_records_per_file);
  write_ranges(w, "ranges", e.ranges);
  if (e.decode) {
    const DecodeSpec& d = *e.decode;
    w.key("decode")
        .begin_object()
        .field("schema", d.schema)
        .field("partitionFrom", d.partition_from)
        .field("onBadRecord", d.on_bad_record)
        .field("maxRecordBytes", d.max_record_bytes)
        .field("maxStringBytes", d.max_string_bytes);
    if (!d.kafka_columns.empty()) w.field("kafkaColumns", d.kafka_columns);
    w.field("fingerprint", d.fingerprint()).end_object();
  }
  w.key("sinks").begin_array();
  for (const auto& k : e.sinks) {
    w.begin_object().field("name", k.name).field("root", k.root).field("format", k.format).end_object();
  }
  w.end_array();
  write_files(w, e.files);
  if (!e.skipped.empty()) {
    write_ranges(w, "skipped", e.skipped);
  }
  if (e.days) write_day_plan(w, *e.days);
  if (!e.epochs.empty()) {
    w.key("epochs").begin_array();
    for (const auto& [p, epoch] : e.epochs) w.begin_object().field("partition", p).field("epoch", epoch).end_object();
    w.end_array();
  }
  w.end_object();
  return w.take() + "\n";
}

Result<OffsetsEntry> parse_offsets(std::string_view json, std::string_view file) {
  simdjson::dom::parser parser;
  KPIPE_ASSIGN_OR_RETURN(auto doc, parse_object(parser, json, file));
  OffsetsEntry e;
  KPIPE_RETURN_IF_ERROR(get_int(doc, "batchId", e.batch_id, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "plannedAtMs", e.planned_at_ms, file));
  KPIPE_RETURN_IF_ERROR(get_str(doc, "topic", e.topic, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "filesPerPartition", e.layout.files_per_partition, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "maxRecordsPerFile", e.layout.max_records_per_file, file));
  simdjson::dom::array ranges;
  if (doc["ranges"].get_array().get(ranges) != simdjson::SUCCESS) return corrupt(file, "field 'ranges'");
  std::set<int32_t> partitions;
  for (auto r : ranges) {
    KPIPE_ASSIGN_OR_RETURN(PartitionRange pr, read_range(r, "range", file));
    // A partition listed twice would be read twice: every row of it duplicated.
    if (!partitions.insert(pr.partition).second) {
      return corrupt(file, "partition " + std::to_string(pr.partition) + " listed twice");
    }
    e.ranges.push_back(pr);
  }
  if (e.layout.files_per_partition < 1 || e.layout.max_records_per_file < 1) return corrupt(file, "file layout");
  // Entries of kpipe 0.1 end here; a replay of one plans its files from the current settings.
  if (doc["sinks"].error() == simdjson::NO_SUCH_FIELD) return e;
  KPIPE_RETURN_IF_ERROR(get_str(doc, "writer", e.writer, file));
  simdjson::dom::element dec;
  if (doc["decode"].get(dec) == simdjson::SUCCESS) {
    DecodeSpec d;
    KPIPE_RETURN_IF_ERROR(get_str(dec, "schema", d.schema, file));
    KPIPE_RETURN_IF_ERROR(get_str(dec, "partitionFrom", d.partition_from, file));
    KPIPE_RETURN_IF_ERROR(get_str(dec, "onBadRecord", d.on_bad_record, file));
    KPIPE_RETURN_IF_ERROR(get_int(dec, "maxRecordBytes", d.max_record_bytes, file));
    KPIPE_RETURN_IF_ERROR(get_int(dec, "maxStringBytes", d.max_string_bytes, file));
    if (dec["kafkaColumns"].error() != simdjson::NO_SUCH_FIELD) {
      KPIPE_RETURN_IF_ERROR(get_str(dec, "kafkaColumns", d.kafka_columns, file));
    }
    std::string fp;
    KPIPE_RETURN_IF_ERROR(get_str(dec, "fingerprint", fp, file));
    if (fp != d.fingerprint()) return corrupt(file, "the decode settings do not match their fingerprint");
    e.decode = std::move(d);
  }
  simdjson::dom::array sinks;
  if (doc["sinks"].get_array().get(sinks) != simdjson::SUCCESS) return corrupt(file, "field 'sinks'");
  for (auto k : sinks) {
    SinkSpec spec;
    KPIPE_RETURN_IF_ERROR(get_str(k, "name", spec.name, file));
    KPIPE_RETURN_IF_ERROR(get_str(k, "root", spec.root, file));
    KPIPE_RETURN_IF_ERROR(get_str(k, "format", spec.format, file));
    e.sinks.push_back(std::move(spec));
  }
  KPIPE_RETURN_IF_ERROR(read_files(doc, e.files, file));
  simdjson::dom::array skipped;
  if (doc["skipped"].get_array().get(skipped) == simdjson::SUCCESS) {
    for (auto r : skipped) {
      KPIPE_ASSIGN_OR_RETURN(PartitionRange pr, read_range(r, "skipped range", file));
      e.skipped.push_back(pr);
    }
  } else if (doc["skipped"].error() != simdjson::NO_SUCH_FIELD) {
    return corrupt(file, "field 'skipped'");
  }
  simdjson::dom::element days;
  if (doc["days"].get(days) == simdjson::SUCCESS) {
    e.days.emplace();
    KPIPE_RETURN_IF_ERROR(read_day_plan(days, *e.days, file));
  }
  simdjson::dom::array epochs;
  if (doc["epochs"].get_array().get(epochs) == simdjson::SUCCESS) {
    for (auto x : epochs) {
      int32_t p = 0;
      int64_t epoch = 0;
      KPIPE_RETURN_IF_ERROR(get_int(x, "partition", p, file));
      KPIPE_RETURN_IF_ERROR(get_int(x, "epoch", epoch, file));
      e.epochs[p] = epoch;
    }
  } else if (doc["epochs"].error() != simdjson::NO_SUCH_FIELD) {
    return corrupt(file, "field 'epochs'");
  }
  return e;
}

std::string serialize_commit(const CommitEntry& e) {
  JsonWriter w;
  w.begin_object()
      .field("version", static_cast<int64_t>(kCheckpointVersion))
      .field("batchId", e.batch_id)
      .field("committedAtMs", e.committed_at_ms)
      .field("writer", e.writer)
      .field("inputRows", e.input_rows)
      .field("outputRows", e.output_rows)
      .field("deadLetterRows", e.dead_letter_rows);
  write_files(w, e.files);
  if (e.completed_days) write_days(w, "completedDays", *e.completed_days);
  w.end_object();
  return w.take() + "\n";
}

Result<CommitEntry> parse_commit(std::string_view json, std::string_view file) {
  simdjson::dom::parser parser;
  KPIPE_ASSIGN_OR_RETURN(auto doc, parse_object(parser, json, file));
  CommitEntry e;
  KPIPE_RETURN_IF_ERROR(get_int(doc, "batchId", e.batch_id, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "committedAtMs", e.committed_at_ms, file));
  if (doc["writer"].error() != simdjson::NO_SUCH_FIELD) KPIPE_RETURN_IF_ERROR(get_str(doc, "writer", e.writer, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "inputRows", e.input_rows, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "outputRows", e.output_rows, file));
  KPIPE_RETURN_IF_ERROR(get_int(doc, "deadLetterRows", e.dead_letter_rows, file));
  KPIPE_RETURN_IF_ERROR(read_files(doc, e.files, file));
  if (doc["completedDays"].error() != simdjson::NO_SUCH_FIELD) {
    e.completed_days.emplace();
    KPIPE_RETURN_IF_ERROR(read_days(doc, "completedDays", *e.completed_days, file));
  }
  return e;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(std::shared_ptr<FileSystem> fs, std::string dir, std::string topic,
                                                     std::string group_id) {
  std::unique_ptr<Checkpoint> cp(new Checkpoint(std::move(fs), std::move(dir)));
  cp->writer_ = new_writer_id();
  FileSystem& f = *cp->fs_;
  const std::string meta_path = cp->dir_ + "/metadata";
  KPIPE_RETURN_IF_ERROR(f.make_dirs(cp->dir_ + "/offsets"));
  KPIPE_RETURN_IF_ERROR(f.make_dirs(cp->dir_ + "/commits"));
  if (!f.exists(meta_path)) {
    cp->query_id_ = new_query_id();
    cp->created_now_ = true;
    JsonWriter w;
    w.begin_object()
        .field("version", static_cast<int64_t>(kCheckpointVersion))
        .field("queryId", cp->query_id_)
        .field("topic", topic);
    if (!group_id.empty()) w.field("groupId", group_id);
    w.field("createdAtMs", wall_clock_ms()).end_object();
    // Create-if-absent: two processes starting on a new checkpoint must not end up with two
    // query ids; the one that loses reads the winner's below.
    Status st = create_atomically(f, cp->dir_, "metadata", w.take() + "\n");
    if (st.code() == StatusCode::kAlreadyExists) {
      cp->created_now_ = false;
    } else {
      KPIPE_RETURN_IF_ERROR(st);
    }
  }
  if (!cp->created_now_) {
    KPIPE_ASSIGN_OR_RETURN(std::string text, f.read_file(meta_path));
    simdjson::dom::parser parser;
    KPIPE_ASSIGN_OR_RETURN(auto doc, parse_object(parser, text, meta_path));
    std::string stored_topic;
    KPIPE_RETURN_IF_ERROR(get_str(doc, "queryId", cp->query_id_, meta_path));
    KPIPE_RETURN_IF_ERROR(get_str(doc, "topic", stored_topic, meta_path));
    if (stored_topic != topic) {
      return Status::fatal("CHECKPOINT_PATH=" + cp->dir_ + " belongs to topic '" + stored_topic +
                           "', not KAFKA_TOPIC='" + topic + "': use another CHECKPOINT_PATH for this topic");
    }
    if (cp->query_id_.size() < 8) return corrupt(meta_path, "query id");
    std::string stored_group;
    if (doc["groupId"].error() != simdjson::NO_SUCH_FIELD) {
      KPIPE_RETURN_IF_ERROR(get_str(doc, "groupId", stored_group, meta_path));
    }
    if (stored_group != group_id) {
      auto name = [](const std::string& g) { return g.empty() ? std::string("no GROUP_ID") : "GROUP_ID=" + g; };
      return Status::fatal("CHECKPOINT_PATH=" + cp->dir_ + " was made with " + name(stored_group) + ", not " +
                               name(group_id) +
                               ": a group keeps its offsets in the Delta log and a single instance in the "
                               "checkpoint, and neither can continue the other's. Use the same GROUP_ID, or another "
                               "CHECKPOINT_PATH (and OUTPUT_PATH)",
                           StatusCode::kInvalidArgument);
    }
  }
  KPIPE_RETURN_IF_ERROR(cp->load());
  return cp;
}

Status Checkpoint::load() {
  KPIPE_ASSIGN_OR_RETURN(auto offsets, list_log(*fs_, dir_ + "/offsets"));
  KPIPE_ASSIGN_OR_RETURN(auto commits, list_log(*fs_, dir_ + "/commits"));
  if (!offsets.empty()) {
    std::string path = dir_ + "/offsets/" + std::to_string(offsets.back());
    KPIPE_ASSIGN_OR_RETURN(std::string text, fs_->read_file(path));
    KPIPE_ASSIGN_OR_RETURN(latest_offsets_, parse_offsets(text, path));
    if (latest_offsets_->batch_id != offsets.back()) return corrupt(path, "batch id differs from its name");
  }
  if (!commits.empty()) {
    std::string path = dir_ + "/commits/" + std::to_string(commits.back());
    KPIPE_ASSIGN_OR_RETURN(std::string text, fs_->read_file(path));
    KPIPE_ASSIGN_OR_RETURN(latest_commit_, parse_commit(text, path));
    if (latest_commit_->batch_id != commits.back()) return corrupt(path, "batch id differs from its name");
  }
  // Commits never run ahead of offsets, and at most one batch is in flight.
  int64_t last_offsets = offsets.empty() ? -1 : offsets.back();
  int64_t last_commit = commits.empty() ? -1 : commits.back();
  if (last_commit > last_offsets || last_offsets > last_commit + 1) {
    return Status::fatal("checkpoint " + dir_ + " is inconsistent: latest offsets entry " +
                         std::to_string(last_offsets) + ", latest commit " + std::to_string(last_commit) +
                         " (expected equal, or offsets one ahead)");
  }
  return Status::success();
}

std::optional<OffsetsEntry> Checkpoint::pending_batch() const {
  if (!latest_offsets_) return std::nullopt;
  if (latest_commit_ && latest_commit_->batch_id == latest_offsets_->batch_id) return std::nullopt;
  return latest_offsets_;
}

// An entry that exists already was made by this process when its own earlier try created it and
// then failed (an fsync of the directory): the entry is there, the in-memory state is not.
Status Checkpoint::write_offsets(const OffsetsEntry& entry) {
  const std::string name = std::to_string(entry.batch_id);
  OffsetsEntry mine = entry;
  mine.writer = writer_;
  Status st = create_atomically(*fs_, dir_ + "/offsets", name, serialize_offsets(mine));
  if (st.code() == StatusCode::kAlreadyExists) {
    const std::string path = dir_ + "/offsets/" + name;
    KPIPE_ASSIGN_OR_RETURN(std::string text, fs_->read_file(path));
    KPIPE_ASSIGN_OR_RETURN(OffsetsEntry existing, parse_offsets(text, path));
    if (existing.writer != writer_) return already_written("offsets", dir_, entry.batch_id);
    latest_offsets_ = std::move(existing);
    return Status::retriable("offsets/" + name + " was created by an earlier try of this process: running batch " +
                             name + " as recorded there");
  }
  KPIPE_RETURN_IF_ERROR(st);
  latest_offsets_ = std::move(mine);
  return Status::success();
}

Status Checkpoint::write_commit(const CommitEntry& entry) {
  const std::string name = std::to_string(entry.batch_id);
  CommitEntry mine = entry;
  mine.writer = writer_;
  Status st = create_atomically(*fs_, dir_ + "/commits", name, serialize_commit(mine));
  if (st.code() == StatusCode::kAlreadyExists) {
    const std::string path = dir_ + "/commits/" + name;
    KPIPE_ASSIGN_OR_RETURN(std::string text, fs_->read_file(path));
    KPIPE_ASSIGN_OR_RETURN(CommitEntry existing, parse_commit(text, path));
    if (existing.writer != writer_) return already_written("commits", dir_, entry.batch_id);
    latest_commit_ = std::move(existing);
    return Status::success();
  }
  KPIPE_RETURN_IF_ERROR(st);
  latest_commit_ = std::move(mine);
  return Status::success();
}

Result<std::unique_ptr<FileLock>> lock_checkpoint(FileSystem& fs, const std::string& dir) {
  KPIPE_RETURN_IF_ERROR(fs.make_dirs(dir));
  const std::string path = dir + "/lock";
  std::string previous;
  if (fs.exists(path)) {
    auto text = fs.read_file(path);
    if (text.ok()) previous = *text;
  }
  auto lock = fs.lock_exclusive(path, owner_line());
  if (lock.ok()) {
    while (!previous.empty() && previous.back() == '\n') previous.pop_back();
    if (!previous.empty())
      log_info("stream",
               "took over the lock of CHECKPOINT_PATH=" + dir + " from " + previous + ", which no longer runs");
    return lock;
  }
  const Status& st = lock.status();
  if (st.code() == StatusCode::kLocked) {
    return Status::fatal("CHECKPOINT_PATH=" + dir + " is in use by another kpipe stream (" + st.message() +
                             "). One writer per checkpoint: stop that process first, or give this one its own "
                             "CHECKPOINT_PATH and output paths",
                         StatusCode::kLocked);
  }
  if (st.code() == StatusCode::kUnavailable) {
    log_warn("stream", "cannot lock " + path + " (" + st.message() +
                           "): going on without the lock; the checkpoint's create-if-absent entries still let only "
                           "one writer commit each batch");
    return std::unique_ptr<FileLock>();
  }
  return st;
}

Status Checkpoint::purge(int retain) {
  for (const char* log : {"/offsets", "/commits"}) {
    const std::string d = dir_ + log;
    KPIPE_ASSIGN_OR_RETURN(auto ids, list_log(*fs_, d));
    for (size_t i = 0; i + static_cast<size_t>(retain) < ids.size(); ++i) {
      KPIPE_RETURN_IF_ERROR(fs_->remove(d + "/" + std::to_string(ids[i])));
    }
  }
  return Status::success();
}

}  // namespace kpipe
