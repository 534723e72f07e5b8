// `kpipe verify`: an audit of an output and its checkpoint, as a pure function over what was
// read (the I/O is audit_reader.h), so every finding is tested on fakes.
//
// What holds when the audit finds nothing:
//   (1) every file of every retained commit (commits/N) is in the listing of its sink's root,
//       with the row count the entry records (Parquet footer, CSV records, dead-letter lines);
//       the rows of each sink add up to the commit's output and dead-letter rows;
//   (2) no file of this query (part-<query8>-<batch>-...) under a final name is outside every
//       commit, except files of the batch in flight (planned by the pending offsets entry) and
//       of batches older than the oldest retained commit (purged: named, counted, not checked);
//   (3) no hidden temp file (.<name>.tmp) except the in-flight batch's;
//   (4) the logs have no hole: batch ids consecutive, every commit has its offsets entry, only
//       the newest offsets entry may lack a commit;
//   (5) per partition, each batch starts where the previous one ended: a gap is accepted only
//       when the later entry records it as skipped (FAIL_ON_DATA_LOSS=false), an overlap never;
//   (6) Kafka: the committed ends are within the partitions' current watermarks;
//   (7) the Delta table (OUTPUT_PATH/_delta_log), when there is one: every committed Parquet
//       file of a retained batch committed after the table was created is an add, every add of
//       this query belongs to a committed (or the in-flight) batch, add stats carry the same row
//       count, every add's file exists, and the table's txn for this query is the last batch.
//
// "Even while the job runs": the reader reads the logs before listing the files (`settled`,
// whose commits had their files renamed before the listing) and again after (`offsets` and
// `commits` hold both reads), so a batch that moves on during the audit is neither a stray
// file (its offsets entry is in the second read) nor a missing one (its commit is not settled).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "delta/delta_actions.h"
#include "engine/checkpoint.h"

namespace kpipe {

struct AuditFinding {
  std::string kind;    // "missing-file", "row-count", "stray-file", ... (docs/design.md lists them)
  int64_t batch = -1;  // -1: not about one batch
  std::string file;    // a path, "" when not about a file
  int32_t partition = -1;
  std::string message;  // one sentence naming what is wrong and where
};

// A process of a consumer group (GROUP_ID), from its directory CHECKPOINT_PATH/members/<name>.
struct GroupMemberState {
  std::string name;      // the directory: the owner in the names of its Delta log temp files
  std::string writer8;   // its files are "part-<writer8>-<batch>-<index>..."
  bool live = false;     // its process holds the directory's lock (a stopped one awaits the sweep)
  bool unknown = false;  // no locks there (S3): `live` is a guess, and its batch in flight counts as one only while
                         // it can still commit
  std::optional<OffsetsEntry> pending;  // its batch in flight, planned and not committed
};

// GROUP_ID: what a group's audit reads besides AuditInput's listing, table and watermarks.
struct GroupAuditInput {
  std::string group_id;
  std::vector<GroupMemberState> members;
  std::vector<std::string> log_temp_files;  // hidden names in OUTPUT_PATH/_delta_log
  // (partition, offset) of every row of one Parquet file; unset when KAFKA_COLUMNS lacks
  // partition or offset (then duplicates are not looked for row by row).
  std::function<Result<std::vector<std::pair<int32_t, int64_t>>>(const std::string& path)> read_offsets;
  // The table read again after the listing (AuditInput::delta was read before it): a file of a
  // batch committed meanwhile is no stray.
  std::optional<DeltaSnapshot> delta_after;
  std::vector<std::string> warnings;  // what reading could not tell
};

struct AuditInput {
  // What reading found already (a damaged checkpoint entry, an unreadable Delta log): reported first.
  std::vector<AuditFinding> read_findings;
  std::string query_id;
  std::string topic;
  // Every entry of both reads of the logs, by batch id.
  std::map<int64_t, OffsetsEntry> offsets;
  std::map<int64_t, CommitEntry> commits;
  int64_t settled = -1;  // newest commit of the first read (-1: none)
  // The sinks as the settings in force give them; an entry's own recorded sinks win for its files.
  std::vector<SinkSpec> sinks;
  // Every root listed (the sinks' roots in force and recorded) → the file paths below it,
  // relative to it ("dt=2025-11-06/part-....parquet", "part-....jsonl").
  std::map<std::string, std::vector<std::string>> listing;
  // Rows of one file (sink name, full path); an error is an unreadable-file finding.
  std::function<Result<int64_t>(const std::string& sink, const std::string& path)> count_rows;
  // Kafka: the watermarks now, or why they could not be read (then kafka_error is not empty).
  std::optional<std::map<int32_t, Watermarks>> watermarks;
  std::string kafka_error;
  bool starting_earliest = true;  // STARTING_OFFSETS
  // The Delta table at OUTPUT_PATH, when it has a log.
  std::optional<DeltaSnapshot> delta;
  std::string delta_root;
  // Set for a consumer group's checkpoint: the audit is then audit_group's (group_audit.h), and
  // offsets, commits and settled are empty (each process has its own checkpoint).
  std::optional<GroupAuditInput> group;
};

struct AuditReport {
  std::vector<AuditFinding> findings;
  std::vector<std::string> infos;     // facts worth knowing that break nothing
  std::vector<std::string> warnings;  // what could not be checked (an unreachable broker)
  int64_t batches = 0;                // settled commits checked
  int64_t files = 0;                  // their files checked
  int64_t rows = 0;                   // their output rows
  int64_t purged_files = 0;           // files of batches older than the retained log, not checked
  std::optional<int64_t> pending;     // the batch in flight, if any
  bool ok() const { return findings.empty(); }
};

AuditReport audit(const AuditInput& in);

// Shared by the two audits.
std::string base_name(const std::string& path);
// A Delta log path back to the file's path (the inverse of encode_log_path).
std::string percent_decode(std::string_view s);
// numRecords of an add's stats; nullopt when the stats do not say.
std::optional<int64_t> stats_rows(const std::string& stats);

// Records in a CSV file's bytes: lines outside double quotes (a quoted value may hold a line
// break), minus the header line. A last line without '\n' counts.
int64_t count_csv_rows(std::string_view bytes);
// Lines of a JSON-lines file (JSON escapes line breaks inside strings).
int64_t count_json_lines(std::string_view bytes);

// The human-readable report: one "FINDING <kind>: <message>" line per finding, "INFO"/"WARNING"
// lines, and a summary line.
std::string format_report_text(const AuditReport& r);
// One JSON document: {"ok":..,"batches":..,"files":..,"rows":..,"purgedFiles":..,"pendingBatch":..,
// "findings":[{"kind":..,"batch":..,"file":..,"partition":..,"message":..}],"infos":[..],"warnings":[..]}
std::string format_report_json(const AuditReport& r);

}  // namespace kpipe
