#include "audit/audit_reader.h"

#include <arrow/array/concatenate.h>
#include <arrow/io/memory.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <simdjson.h>

#include <algorithm>
#include <set>

#include "decode/kafka_columns.h"
#include "delta/delta_log.h"
#include "engine/batch_runner.h"
#include "engine/checkpoint.h"
#include "engine/file_sink.h"
#include "engine/group_members.h"
#include "kafka/source.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

struct Logs {
  std::map<int64_t, OffsetsEntry> offsets;
  std::map<int64_t, CommitEntry> commits;
  std::vector<AuditFinding> damaged;
};

bool is_entry_name(const std::string& n) {
  return !n.empty() && n.size() <= 18 && std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Reads every entry of one log; `parse` is parse_offsets or parse_commit.
template <typename Entry, typename Parse>
Status read_log(FileSystem& fs, const std::string& dir, const char* log, Parse parse, std::map<int64_t, Entry>& out,
                std::vector<AuditFinding>& damaged) {
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir + "/" + log));
  for (const auto& n : names) {
    if (!is_entry_name(n)) continue;
    const int64_t id = std::stoll(n);
    if (out.count(id)) continue;
    const std::string path = dir + "/" + log + "/" + n;
    if (std::any_of(damaged.begin(), damaged.end(), [&](const AuditFinding& f) { return f.file == path; })) continue;
    auto text = fs.read_file(path);
    if (!text.ok()) {
      if (!fs.exists(path)) continue;  // purged by the running job since the listing
      return text.status();
    }
    auto entry = parse(*text, path);
    if (!entry.ok()) {
      damaged.push_back(AuditFinding{"damaged-entry", id, path, -1, entry.status().message()});
      continue;
    }
    if (entry->batch_id != id) {
      damaged.push_back(AuditFinding{"damaged-entry", id, path, -1,
                                     path + " holds batch " + std::to_string(entry->batch_id) + ", not " + n});
      continue;
    }
    out.emplace(id, std::move(entry).value());
  }
  return Status::success();
}

Status read_logs(FileSystem& fs, const std::string& dir, Logs& logs) {
  KPIPE_RETURN_IF_ERROR(read_log(fs, dir, "offsets", parse_offsets, logs.offsets, logs.damaged));
  return read_log(fs, dir, "commits", parse_commit, logs.commits, logs.damaged);
}

// The query id of the checkpoint, which names its files; the checkpoint's topic must be ours.
Status read_metadata(FileSystem& fs, const StreamOptions& o, AuditInput& in) {
  const std::string path = o.checkpoint_path + "/metadata";
  if (!fs.exists(path)) {
    return Status::fatal("CHECKPOINT_PATH=" + o.checkpoint_path +
                             " holds no checkpoint (no metadata file): nothing to verify. Give the CHECKPOINT_PATH of "
                             "the job whose output you want to check",
                         StatusCode::kInvalidArgument);
  }
  KPIPE_ASSIGN_OR_RETURN(std::string text, fs.read_file(path));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view query, topic;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS || doc["queryId"].get_string().get(query) != simdjson::SUCCESS ||
      doc["topic"].get_string().get(topic) != simdjson::SUCCESS || query.size() < 8) {
    return Status::fatal("checkpoint metadata " + path + " is damaged: no queryId or topic");
  }
  if (topic != o.topic) {
    return Status::fatal("CHECKPOINT_PATH=" + o.checkpoint_path + " belongs to topic '" + std::string(topic) +
                             "', not KAFKA_TOPIC='" + o.topic + "'",
                         StatusCode::kInvalidArgument);
  }
  std::string_view group;
  if (doc["groupId"].get_string().get(group) == simdjson::SUCCESS) {
    // Its offsets are in the Delta log and its batches in one checkpoint per process.
    in.group.emplace();
    in.group->group_id = std::string(group);
  }
  in.query_id = std::string(query);
  in.topic = o.topic;
  return Status::success();
}

// Paths below `root`: its files and the files of its dt= folders (the Delta log and other
// folders are not output files).
Result<std::vector<std::string>> list_root(FileSystem& fs, const std::string& root) {
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(root));
  std::vector<std::string> paths;
  for (const auto& n : names) {
    if (n == "_delta_log") continue;
    if (n.rfind("dt=", 0) == 0) {
      auto inner = fs.list_dir(root + "/" + n);
      if (!inner.ok()) continue;  // a file named dt=..., not a folder
      for (const auto& f : *inner) paths.push_back(n + "/" + f);
    } else {
      paths.push_back(n);
    }
  }
  return paths;
}

void read_kafka(const StreamOptions& o, const AuditReadOptions& read, AuditInput& in) {
  SourceOptions so;
  so.bootstrap_servers = o.bootstrap_servers;
  so.topic = o.topic;
  so.kafka_props = o.kafka_props;
  so.client_id = "kpipe-verify";
  so.request_timeout = read.kafka_timeout;
  so.prefetch_bytes = 1 << 20;
  std::string error;
  auto source = KafkaSource::open(so);
  if (!source.ok()) {
    error = source.status().message();
  } else {
    auto parts = (*source)->partitions();
    auto marks = parts.ok() ? (*source)->watermarks(*parts) : Result<std::map<int32_t, Watermarks>>(parts.status());
    if (marks.ok()) {
      in.watermarks = std::move(marks).value();
    } else {
      error = marks.status().message();
      const std::string client = (*source)->last_client_error();
      if (!client.empty() && error.find(client) == std::string::npos) error += " (" + client + ")";
    }
  }
  if (!error.empty()) {
    // The client's wording is the job's, which retries; verify reports once and goes on.
    for (auto r = error.find("; retrying"); r != std::string::npos; r = error.find("; retrying")) error.erase(r, 10);
    in.kafka_error = "KAFKA_BOOTSTRAP_SERVERS=" + o.bootstrap_servers + ", KAFKA_TOPIC=" + o.topic + ": " + error;
  }
}

// One process of a group: its files' writer, whether it runs, and its batch in flight.
Result<GroupMemberState> read_member(FileSystem& fs, const std::string& dir, const std::string& name) {
  GroupMemberState m;
  m.name = name;
  KPIPE_ASSIGN_OR_RETURN(std::string text, fs.read_file(dir + "/metadata"));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view query;
  if (parser.parse(text).get(doc) != simdjson::SUCCESS || doc["queryId"].get_string().get(query) != simdjson::SUCCESS) {
    return Status::fatal("member checkpoint metadata " + dir + "/metadata is damaged: no queryId",
                         StatusCode::kDataLoss);
  }
  const std::string prefix = file_name_prefix(query);  // "part-<writer8>-"
  m.writer8 = prefix.substr(5, prefix.size() - 6);
  // Its process holds the lock for its whole life. Taken for an instant when free (what a
  // sweeper does too; one that looks in that instant tries again at its next claim).
  auto lock = fs.lock_exclusive(dir + "/lock", owner_line() + " (kpipe verify)");
  m.live = !lock.ok();
  m.unknown = !lock.ok() && lock.status().code() == StatusCode::kUnavailable;
  Logs logs;
  KPIPE_RETURN_IF_ERROR(read_logs(fs, dir, logs));
  if (!logs.offsets.empty() && !logs.commits.count(logs.offsets.rbegin()->first)) {
    m.pending = logs.offsets.rbegin()->second;
  }
  return m;
}

// Every member directory with metadata (one without is a process starting, or one that died
// before it wrote anything). Members read again are merged: a batch in flight in either read
// stays in flight, a process that ran in either read ran.
Status read_members(FileSystem& fs, const std::string& checkpoint_path, GroupAuditInput& g,
                    std::vector<std::string>& warnings) {
  const std::string root = members_dir(checkpoint_path);
  if (!fs.exists(root)) return Status::success();
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(root));
  for (const auto& name : names) {
    const std::string dir = root + "/" + name;
    if (is_temp_file_name(name) || !fs.exists(dir + "/metadata")) continue;
    auto m = read_member(fs, dir, name);
    if (!m.ok()) {
      if (!fs.exists(dir)) continue;  // swept meanwhile
      return m.status();
    }
    auto known = std::find_if(g.members.begin(), g.members.end(), [&](const auto& k) { return k.name == name; });
    if (known == g.members.end()) {
      g.members.push_back(std::move(m).value());
      continue;
    }
    known->live = known->live || m->live;
    if (!known->pending) known->pending = std::move(m->pending);
  }
  const auto unknown = std::count_if(g.members.begin(), g.members.end(), [](const auto& m) { return m.unknown; });
  if (unknown > 0 && warnings.empty()) {
    warnings.push_back("no locks at " + root + ": whether the " + std::to_string(unknown) +
                       " instance(s) there run cannot be told; a batch in flight counts as one while it can still "
                       "commit, and the directories of stopped instances stay");
  }
  return Status::success();
}

// (partition, offset) of every row of a Parquet file with those columns (KAFKA_COLUMNS).
Result<std::vector<std::pair<int32_t, int64_t>>> read_partition_offsets(FileSystem& fs, const std::string& path) {
  KPIPE_ASSIGN_OR_RETURN(std::string bytes, fs.read_file(path));
  auto buffer = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int64_t>(bytes.size()));
  auto opened =
      parquet::arrow::OpenFile(std::make_shared<arrow::io::BufferReader>(buffer), arrow::default_memory_pool());
  if (!opened.ok())
    return Status::fatal("not a readable Parquet file: " + opened.status().ToString(), StatusCode::kDataLoss);
  auto reader = std::move(opened).ValueOrDie();
  std::shared_ptr<arrow::Schema> schema;
  if (!reader->GetSchema(&schema).ok()) return Status::fatal("not a readable Parquet file", StatusCode::kDataLoss);
  const int pi = schema->GetFieldIndex("partition"), oi = schema->GetFieldIndex("offset");
  if (pi < 0 || oi < 0) return Status::fatal("no partition and offset columns", StatusCode::kDataLoss);
  std::shared_ptr<arrow::ChunkedArray> parts, offs;
  if (!reader->ReadColumn(pi, &parts).ok() || !reader->ReadColumn(oi, &offs).ok()) {
    return Status::fatal("its partition and offset columns cannot be read", StatusCode::kDataLoss);
  }
  std::vector<std::pair<int32_t, int64_t>> out;
  out.reserve(static_cast<size_t>(parts->length()));
  auto pc = arrow::Concatenate(parts->chunks());
  auto oc = arrow::Concatenate(offs->chunks());
  if (!pc.ok() || !oc.ok() || (*pc)->type_id() != arrow::Type::INT32 || (*oc)->type_id() != arrow::Type::INT64) {
    return Status::fatal("its partition and offset columns are not INT and BIGINT", StatusCode::kDataLoss);
  }
  const auto& p = static_cast<const arrow::Int32Array&>(**pc);
  const auto& o = static_cast<const arrow::Int64Array&>(**oc);
  for (int64_t i = 0; i < p.length(); ++i) out.emplace_back(p.Value(i), o.Value(i));
  return out;
}

// Hidden names in the Delta log: commits and checkpoints being written, or left by a kill.
std::vector<std::string> log_temp_files(FileSystem& fs, const std::string& root) {
  std::vector<std::string> out;
  auto names = fs.list_dir(delta_log_dir(root));
  if (!names.ok()) return out;
  for (const auto& n : *names) {
    if (is_temp_file_name(n)) out.push_back(n);
  }
  return out;
}

// GROUP_ID, in this order so that a group running meanwhile yields no false finding
// (group_audit.h): members, the table, the listing, members again, the table again.
Status read_group(std::shared_ptr<FileSystem> fs, const StreamOptions& o, AuditInput& in) {
  GroupAuditInput& g = *in.group;
  KPIPE_RETURN_IF_ERROR(read_members(*fs, o.checkpoint_path, g, g.warnings));
  in.sinks = sink_specs(o);
  in.delta_root = o.output_path;
  auto first = load_snapshot(*fs, o.output_path);
  if (!first.ok()) first = load_snapshot(*fs, o.output_path);  // log files removed under the read
  if (first.ok()) {
    in.delta = std::move(first).value();
  } else {
    in.read_findings.push_back(AuditFinding{"delta-unreadable", -1, o.output_path + "/_delta_log", -1,
                                            "the Delta log of " + o.output_path + ": " + first.status().message()});
  }
  for (const auto& s : in.sinks) {
    if (!fs->exists(s.root)) continue;
    KPIPE_ASSIGN_OR_RETURN(in.listing[s.root], list_root(*fs, s.root));
  }
  g.log_temp_files = log_temp_files(*fs, o.output_path);
  KPIPE_RETURN_IF_ERROR(read_members(*fs, o.checkpoint_path, g, g.warnings));
  if (in.delta) {
    DeltaSnapshot after = *in.delta;
    if (catch_up(*fs, o.output_path, after).ok()) g.delta_after = std::move(after);
  }
  in.count_rows = [fs](const std::string& sink, const std::string& path) { return count_file_rows(*fs, sink, path); };
  if (kafka_columns_include(o.kafka_columns, KafkaField::kPartition) &&
      kafka_columns_include(o.kafka_columns, KafkaField::kOffset)) {
    g.read_offsets = [fs](const std::string& path) { return read_partition_offsets(*fs, path); };
  }
  return Status::success();
}

}  // namespace

Result<int64_t> count_file_rows(FileSystem& fs, const std::string& sink, const std::string& path) {
  KPIPE_ASSIGN_OR_RETURN(std::string bytes, fs.read_file(path));
  if (sink == kCsvSink) return count_csv_rows(bytes);
  if (sink == kDeadLetterSink) return count_json_lines(bytes);
  try {
    auto buffer = std::make_shared<arrow::Buffer>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                  static_cast<int64_t>(bytes.size()));
    auto reader = parquet::ParquetFileReader::Open(std::make_shared<arrow::io::BufferReader>(buffer));
    return reader->metadata()->num_rows();
  } catch (const std::exception& e) {
    return Status::fatal(std::string("not a readable Parquet file: ") + e.what(), StatusCode::kDataLoss);
  }
}

Result<AuditInput> read_audit_input(std::shared_ptr<FileSystem> fs, const StreamOptions& o,
                                    const AuditReadOptions& read) {
  AuditInput in;
  KPIPE_RETURN_IF_ERROR(read_metadata(*fs, o, in));
  if (in.group) {
    if (!o.sink_parquet || o.parquet_table_format != "delta") {
      return Status::fatal("CHECKPOINT_PATH=" + o.checkpoint_path +
                               " belongs to the consumer group GROUP_ID=" + in.group->group_id +
                               ", whose truth is the Delta table at OUTPUT_PATH: give verify "
                               "the group's settings (a Parquet sink, PARQUET_TABLE_FORMAT=delta)",
                           StatusCode::kInvalidArgument);
    }
    KPIPE_RETURN_IF_ERROR(read_group(fs, o, in));
    if (read.with_kafka) read_kafka(o, read, in);
    return in;
  }
  // (1) The logs before the listing.
  Logs logs;
  KPIPE_RETURN_IF_ERROR(read_logs(*fs, o.checkpoint_path, logs));
  in.settled = logs.commits.empty() ? -1 : logs.commits.rbegin()->first;
  // (2) The roots of the sinks in force and of every retained entry.
  in.sinks = sink_specs(o);
  in.sinks.push_back(SinkSpec{std::string(kDeadLetterSink), o.dead_letter_path, ""});
  std::set<std::string> roots;
  for (const auto& s : in.sinks) roots.insert(s.root);
  for (const auto& [id, e] : logs.offsets) {
    for (const auto& s : e.sinks) roots.insert(s.root);
  }
  for (const auto& root : roots) {
    KPIPE_ASSIGN_OR_RETURN(in.listing[root], list_root(*fs, root));
  }
  // (3) The Delta table.
  if (o.sink_parquet && o.parquet_table_format == "delta") {
    in.delta_root = o.output_path;
    auto snapshot = load_snapshot(*fs, o.output_path);
    // A running job may remove expired log files between the listing of the log and their read.
    if (!snapshot.ok()) snapshot = load_snapshot(*fs, o.output_path);
    if (snapshot.ok()) {
      in.delta = std::move(snapshot).value();
    } else {
      logs.damaged.push_back(AuditFinding{"delta-unreadable", -1, o.output_path + "/_delta_log", -1,
                                          "the Delta log of " + o.output_path + ": " + snapshot.status().message()});
    }
  }
  // (4) The logs again: what a running job planned or committed meanwhile.
  KPIPE_RETURN_IF_ERROR(read_logs(*fs, o.checkpoint_path, logs));
  in.offsets = std::move(logs.offsets);
  in.commits = std::move(logs.commits);
  in.read_findings = std::move(logs.damaged);
  in.starting_earliest = o.starting_earliest;
  in.count_rows = [fs](const std::string& sink, const std::string& path) { return count_file_rows(*fs, sink, path); };
  // (5) Kafka.
  if (read.with_kafka) read_kafka(o, read, in);
  return in;
}

}  // namespace kpipe
