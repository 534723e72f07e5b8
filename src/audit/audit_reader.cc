#include "audit/audit_reader.h"

#include <arrow/io/memory.h>
#include <parquet/exception.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <simdjson.h>

#include <algorithm>
#include <set>

#include "delta/delta_log.h"
#include "engine/batch_runner.h"
#include "engine/file_sink.h"
#include "kafka/source.h"

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
    // Its offsets are in the Delta log and its batches in one checkpoint per process: an audit of
    // the shared checkpoint would find no batch and say OK.
    return Status::fatal("CHECKPOINT_PATH=" + o.checkpoint_path +
                             " belongs to the consumer group GROUP_ID=" + std::string(group) +
                             ", whose offsets live in the Delta log (txn kpipe-" + std::string(query) +
                             "-p<partition>): kpipe verify audits a single instance's checkpoint and cannot audit a "
                             "group's yet",
                         StatusCode::kInvalidArgument);
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
