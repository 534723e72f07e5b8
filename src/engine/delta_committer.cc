#include "engine/delta_committer.h"

#include <algorithm>

#include "common/json_writer.h"
#include "common/log.h"
#include "common/time_format.h"
#include "common/time_util.h"
#include "delta/delta_json.h"
#include "delta/delta_log.h"
#include "delta/delta_schema.h"
#include "engine/file_sink.h"

namespace kpipe {
namespace {

// The protocol of a table with a TIMESTAMP_NTZ column: table features, with timestampNtz alone.
const DeltaProtocol kNtzProtocol{3, 7, {"timestampNtz"}, {"timestampNtz"}};

// Conflicts with other writers of an appended-to table are retried this often before the batch
// fails (and is retried by the trigger loop).
constexpr int kMaxConflicts = 20;

Status refuse(const std::string& message) { return Status::fatal(message, StatusCode::kInvalidArgument); }

std::string engine_info() { return std::string("kpipe/") + KPIPE_VERSION; }

std::string create_commit(const DeltaSnapshot& s) {
  JsonWriter info;
  info.begin_object().field("timestamp", wall_clock_ms()).field("operation", "CREATE TABLE");
  info.key("operationParameters").begin_object().field("partitionBy", R"(["dt"])").end_object();
  info.field("isBlindAppend", true).field("engineInfo", engine_info()).end_object();
  return commit_info_line(info.str()) + action_line(s.protocol) + action_line(s.metadata);
}

// "dt=2025-11-06/part-....parquet" → "2025-11-06"; "" when the path has no dt folder.
std::string day_of(const std::string& path) {
  if (path.rfind("dt=", 0) != 0) return "";
  return path.substr(3, path.find('/') - 3);
}

class DeltaCommitter final : public Committer {
 public:
  DeltaCommitter(FileSystem& fs, DeltaTableSpec spec, DeltaSnapshot snapshot)
      : fs_(fs), spec_(std::move(spec)), snap_(std::move(snapshot)) {}

  std::string_view name() const override { return "delta"; }

  Result<bool> has_committed(const OffsetsEntry& entry) override {
    if (stale_) {
      KPIPE_ASSIGN_OR_RETURN(snap_, load_snapshot(fs_, spec_.root));
      stale_ = false;
    }
    return committed(entry.batch_id);
  }

  Status commit(const OffsetsEntry& entry, const CommitEntry& commit) override {
    const std::string base = batch_actions(entry, commit);
    if (spec_.guard) {
      // The guard must judge the newest version: other instances commit all the time, and a
      // stale snapshot would show an owner epoch this instance has raised since.
      Status caught = catch_up(fs_, spec_.root, snap_);
      if (!caught.ok()) {
        stale_ = true;
        return caught;
      }
      if (committed(entry.batch_id)) return Status::success();
    }
    for (int conflict = 0;; ++conflict) {
      std::string actions = base;
      if (spec_.guard) {
        // Against the version this attempt follows: the create-if-absent below succeeds only if
        // that is still the newest.
        KPIPE_ASSIGN_OR_RETURN(std::string txns, spec_.guard(snap_, entry));
        actions += txns;
      }
      const int64_t version = snap_.version + 1;
      Status st = write_commit(fs_, spec_.root, version, actions, spec_.temp_owner);
      if (st.ok()) {
        KPIPE_RETURN_IF_ERROR(apply_commit(actions, version, snap_, delta_commit_name(version)));
        maintain();
        return Status::success();
      }
      if (st.code() != StatusCode::kAlreadyExists || conflict >= kMaxConflicts) {
        stale_ = true;
        return st;
      }
      // Another writer took this version: read what it did and try the next one.
      Status caught = catch_up(fs_, spec_.root, snap_);
      if (!caught.ok()) {
        stale_ = true;
        return caught;
      }
      if (committed(entry.batch_id)) return Status::success();  // an earlier try of this process
      KPIPE_RETURN_IF_ERROR(check_writable(snap_, spec_));
    }
  }

  static Status check_writable(const DeltaSnapshot& s, const DeltaTableSpec& spec);

  Result<const DeltaSnapshot*> caught_up() {
    if (stale_) {
      KPIPE_ASSIGN_OR_RETURN(snap_, load_snapshot(fs_, spec_.root));
      stale_ = false;
    } else {
      KPIPE_RETURN_IF_ERROR(catch_up(fs_, spec_.root, snap_));
    }
    return &snap_;
  }

 private:
  const std::string& batch_app_id() const { return spec_.batch_app_id.empty() ? spec_.query_id : spec_.batch_app_id; }

  bool committed(int64_t batch_id) const {
    auto it = snap_.txns.find(batch_app_id());
    return it != snap_.txns.end() && it->second.version >= batch_id;
  }

  std::string batch_actions(const OffsetsEntry& entry, const CommitEntry& commit) const {
    const int64_t now = wall_clock_ms();
    std::string adds;
    int64_t files = 0, rows = 0, bytes = 0;
    const auto parquet =
        std::find_if(entry.sinks.begin(), entry.sinks.end(), [](const SinkSpec& s) { return s.name == kParquetSink; });
    const bool in_table = parquet != entry.sinks.end() && parquet->root == spec_.root;
    if (parquet != entry.sinks.end() && !in_table) {
      log_warn("delta", "batch " + std::to_string(entry.batch_id) + " was planned with its Parquet files in " +
                            parquet->root + ", not in the table at " + spec_.root +
                            ": the table records the batch without its files");
    }
    for (const auto& f : commit.files) {
      if (f.sink != kParquetSink || !in_table) continue;
      DeltaAdd a;
      a.path = encode_log_path(f.path);
      a.partition_values["dt"] = day_of(f.path);
      a.size = f.bytes;
      a.modification_time = now;
      a.stats = f.stats;
      adds += action_line(a);
      ++files;
      rows += f.rows;
      bytes += f.bytes;
    }
    JsonWriter info;
    info.begin_object().field("timestamp", now).field("operation", "STREAMING UPDATE");
    info.key("operationParameters").begin_object();
    info.field("outputMode", "Append")
        .field("queryId", spec_.query_id)
        .field("epochId", std::to_string(entry.batch_id));
    info.end_object();
    info.field("isBlindAppend", true);
    info.key("operationMetrics").begin_object();
    info.field("numAddedFiles", std::to_string(files))
        .field("numOutputRows", std::to_string(rows))
        .field("numOutputBytes", std::to_string(bytes));
    info.end_object();
    info.field("engineInfo", engine_info());
    info.key("kpipe").begin_object().field("batchId", entry.batch_id).field("topic", entry.topic);
    if (!spec_.batch_app_id.empty()) info.field("writer", spec_.batch_app_id);
    info.key("startOffsets").begin_object();
    for (const auto& r : entry.ranges) info.field(std::to_string(r.partition), r.start);
    info.end_object().key("endOffsets").begin_object();
    for (const auto& r : entry.ranges) info.field(std::to_string(r.partition), r.end);
    info.end_object();
    if (entry.days && !entry.days->completed.empty()) {
      // The days whose dt=D/_SUCCESS this batch wrote (DT_COMPLETE_AFTER): a table reader's marker.
      info.key("completedDays").begin_array();
      char buf[16];
      for (int32_t d : entry.days->completed) info.value(std::string_view(buf, format_date(d, buf) - buf));
      info.end_array();
    }
    info.end_object().end_object();
    return commit_info_line(info.str()) + action_line(DeltaTxn{batch_app_id(), entry.batch_id, now}) + adds;
  }

  // A checkpoint every delta.checkpointInterval versions, then the log files the retention lets
  // go. Neither is needed for the batch, which is committed: a failure is a warning, and the next
  // interval tries again.
  void maintain() {
    auto interval = checkpoint_interval(snap_.metadata);
    if (!interval.ok() || snap_.version % *interval != 0) return;
    Status st = write_checkpoint(fs_, spec_.root, snap_, spec_.temp_owner);
    if (!st.ok()) {
      log_warn("delta", "checkpoint of version " + std::to_string(snap_.version) + " not written: " + st.message());
      return;
    }
    auto retention = log_retention_ms(snap_.metadata);
    if (!retention.ok()) {
      log_warn("delta", retention.status().message() + "; no log files removed");
      return;
    }
    auto removed = remove_expired_log_files(fs_, spec_.root, snap_.version, wall_clock_ms() - *retention);
    if (!removed.ok()) log_warn("delta", "removing expired log files: " + removed.status().message());
  }

  FileSystem& fs_;
  DeltaTableSpec spec_;
  DeltaSnapshot snap_;
  bool stale_ = false;  // after a failed write: what the log holds is not known
};

Status DeltaCommitter::check_writable(const DeltaSnapshot& s, const DeltaTableSpec& spec) {
  const std::string where = "OUTPUT_PATH=" + spec.root + ": the Delta table there ";
  const DeltaProtocol& p = s.protocol;
  if (p != kNtzProtocol && (p.min_reader_version > 1 || p.min_writer_version > 2)) {
    std::string features;
    for (const auto& f : p.writer_features) features += (features.empty() ? " (" : ", ") + f;
    if (!features.empty()) features += ")";
    return refuse(
        where + "needs reader version " + std::to_string(p.min_reader_version) + " and writer version " +
        std::to_string(p.min_writer_version) + features +
        "; kpipe writes tables of reader version 1 and writer version 2 (3 and 7 with the feature timestampNtz "
        "alone). Use another OUTPUT_PATH, or "
        "PARQUET_TABLE_FORMAT=none");
  }
  if (s.metadata.format_provider != "parquet") {
    return refuse(where + "stores its files as '" + s.metadata.format_provider + "', not parquet");
  }
  if (s.metadata.partition_columns != std::vector<std::string>{std::string(kDeltaPartitionColumn)}) {
    std::string cols;
    for (const auto& c : s.metadata.partition_columns) cols += (cols.empty() ? "" : ", ") + c;
    return refuse(where + "is partitioned by [" + cols + "]; kpipe's table is partitioned by [dt]");
  }
  return Status::success();
}

}  // namespace

Result<const DeltaSnapshot*> delta_snapshot(Committer& delta_committer) {
  auto* d = dynamic_cast<DeltaCommitter*>(&delta_committer);
  if (!d) return Status::fatal("not the Delta table's committer", StatusCode::kInternal);
  return d->caught_up();
}

Result<std::unique_ptr<Committer>> open_delta_table(FileSystem& fs, const DeltaTableSpec& spec) {
  KPIPE_ASSIGN_OR_RETURN(std::string ours, delta_schema_string(spec.schema));
  KPIPE_ASSIGN_OR_RETURN(auto our_fields, parse_delta_schema(ours, "SCHEMA"));
  KPIPE_ASSIGN_OR_RETURN(DeltaSnapshot s, load_snapshot(fs, spec.root));
  if (s.version < 0) {
    DeltaSnapshot created;
    created.version = 0;
    created.metadata.id = new_query_id();
    created.metadata.schema_string = ours;
    created.metadata.partition_columns = {std::string(kDeltaPartitionColumn)};
    created.metadata.configuration = {{std::string(kQueryIdProperty), spec.query_id}, {"kpipe.topic", spec.topic}};
    created.metadata.created_time = wall_clock_ms();
    if (needs_timestamp_ntz(spec.schema.columns)) created.protocol = kNtzProtocol;
    Status st = write_commit(fs, spec.root, 0, create_commit(created), spec.temp_owner);
    if (st.ok()) {
      log_info("delta", "created the Delta table " + spec.root + " (table id " + created.metadata.id + ")");
      if (spec.last_committed_batch >= 0) {
        log_warn("delta", "batches 0.." + std::to_string(spec.last_committed_batch) +
                              " of this checkpoint were written before the table existed: their files are in the dt= "
                              "folders but not in the table");
      }
      return std::unique_ptr<Committer>(std::make_unique<DeltaCommitter>(fs, spec, std::move(created)));
    }
    if (st.code() != StatusCode::kAlreadyExists) return st.with_context("creating the Delta table " + spec.root);
    KPIPE_ASSIGN_OR_RETURN(s, load_snapshot(fs, spec.root));  // another writer created it just now
  }
  KPIPE_RETURN_IF_ERROR(DeltaCommitter::check_writable(s, spec));
  auto owner = s.metadata.configuration.find(std::string(kQueryIdProperty));
  if ((owner == s.metadata.configuration.end() || owner->second != spec.query_id) && !spec.append) {
    const std::string whose = owner == s.metadata.configuration.end()
                                  ? "a table kpipe did not create (no " + std::string(kQueryIdProperty) + ")"
                                  : "the table of another query (" + owner->second + ")";
    return refuse("OUTPUT_PATH=" + spec.root + " holds " + whose + ", and this checkpoint is query " + spec.query_id +
                  ". Use the checkpoint that writes this table, another OUTPUT_PATH, or PARQUET_TABLE_APPEND=true to "
                  "add this query's batches to it");
  }
  KPIPE_ASSIGN_OR_RETURN(auto table_fields, parse_delta_schema(s.metadata.schema_string, spec.root + "/_delta_log"));
  SchemaChange change = compare_schemas(table_fields, our_fields);
  if (!change.compatible) {
    return refuse("SCHEMA cannot write to the Delta table at OUTPUT_PATH=" + spec.root + ": " + change.reason +
                  ". Go back to the table's schema, or write to another OUTPUT_PATH");
  }
  if (!change.added.empty()) {
    DeltaMetadata m = s.metadata;
    m.schema_string = change.merged_schema_string;
    std::string added;
    for (const auto& a : change.added) added += (added.empty() ? "" : ", ") + a;
    JsonWriter info;
    info.begin_object().field("timestamp", wall_clock_ms()).field("operation", "ADD COLUMNS");
    info.key("operationParameters").begin_object().field("columns", added).end_object();
    info.field("engineInfo", engine_info()).end_object();
    std::string actions = commit_info_line(info.str());
    if (needs_timestamp_ntz(spec.schema.columns) && s.protocol != kNtzProtocol) {
      actions += action_line(kNtzProtocol);  // a TIMESTAMP_NTZ column added: the table gains the feature
    }
    actions += action_line(m);
    KPIPE_RETURN_IF_ERROR(write_commit(fs, spec.root, s.version + 1, actions, spec.temp_owner)
                              .with_context("adding columns " + added + " to the Delta table " + spec.root));
    KPIPE_RETURN_IF_ERROR(apply_commit(actions, s.version + 1, s, delta_commit_name(s.version + 1)));
    log_info("delta",
             "the table schema at " + spec.root + " gains " + added + " (version " + std::to_string(s.version) + ")");
  }
  return std::unique_ptr<Committer>(std::make_unique<DeltaCommitter>(fs, spec, std::move(s)));
}

}  // namespace kpipe
