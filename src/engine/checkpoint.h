// The checkpoint: a write-ahead log of batches, the only source of truth for what was read and
// what was written. Layout under CHECKPOINT_PATH:
//
//   metadata      {"version":1,"queryId":"<uuid>","topic":"events","createdAt":"..."}
//   lock          "pid 1234 on host h, started ...": flock'ed by the one writer (see lock_checkpoint)
//   offsets/<N>   the write-ahead entry, written BEFORE batch N writes any output file: its exact
//                 ranges, and everything else a replay needs to write the same files again — the
//                 sinks and their roots, the file layout, the decode settings (schema, Kafka
//                 columns, bad-record policy, limits) with their fingerprint, and the files it plans
//   commits/<N>   written AFTER every output file of batch N has its final name
//
// With DT_COMPLETE_AFTER, offsets/<N> also holds "days" (the per-partition event-time watermarks,
// the last complete day, the open days, the day markers batch N writes, its late rows) and
// commits/<N> "completedDays": entries without them parse as before.
//
// Every entry is created atomically and only if absent (hidden temp file, fsync, rename without
// replace, fsync of the directory), so an entry is either complete or absent, and of two writers
// that race for batch N exactly one creates offsets/N. A malformed entry means the directory was
// damaged or edited; it is a fatal error that names the file, never silently skipped.
// The last `retain` entries of each log are kept (100 by default), as Spark does.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "engine/day_completion.h"
#include "kafka/source.h"

namespace kpipe {

inline constexpr int kCheckpointVersion = 1;

struct FileLayout {
  int64_t files_per_partition = 1;      // FILES_PER_PARTITION in force when the batch was planned
  int64_t max_records_per_file = 5000;  // MAX_RECORDS_PER_FILE in force when the batch was planned
  bool operator==(const FileLayout&) const = default;
};

// One output of a batch as the write-ahead entry records it.
struct SinkSpec {
  std::string name;    // "parquet", "csv", "dead-letter"
  std::string root;    // the directory its files go under (OUTPUT_PATH, CSV_OUTPUT_PATH, DEAD_LETTER_PATH)
  std::string format;  // parquet: its compression ("snappy", "zstd", "none"); "" for the others
  bool operator==(const SinkSpec&) const = default;
};

// The settings that decide which records are good and what their rows hold. A replay decodes
// with these, not with the settings of the restart, so it writes what the first attempt wrote.
struct DecodeSpec {
  std::string schema;          // SCHEMA, as given
  std::string partition_from;  // PARTITION_FROM
  std::string on_bad_record;   // ON_BAD_RECORD: dlq | skip | fail
  int64_t max_record_bytes = 0;
  int64_t max_string_bytes = 0;
  // KAFKA_COLUMNS, as given; "" (none) in entries before it existed, which the fingerprint of an
  // empty one keeps matching.
  std::string kafka_columns;
  bool operator==(const DecodeSpec&) const = default;
  // 16 hex digits (FNV-1a, 64 bits) of every field: equal settings, equal fingerprint.
  std::string fingerprint() const;
};

struct CommittedFile {
  std::string sink;  // "parquet", "csv", "dead-letter"
  std::string path;  // relative to the sink's root, e.g. "dt=2025-11-06/part-1a2b3c4d-00007-000.snappy.parquet"
  int64_t rows = 0;
  // For the table committers, not recorded in the checkpoint: the file's size and, for a Parquet
  // file of a Delta table, its statistics as the add action carries them.
  int64_t bytes = 0;
  std::string stats;
  bool operator==(const CommittedFile&) const = default;
};

struct OffsetsEntry {
  int64_t batch_id = 0;
  int64_t planned_at_ms = 0;
  std::string topic;
  std::string writer;  // the process that planned it (pid, host, random), so two writers' entries differ
  std::vector<PartitionRange> ranges;  // sorted by partition; a partition with no new data has start == end
  FileLayout layout;                   // a re-run writes the same files even if the settings changed
  // Empty in entries of kpipe before 0.2, which recorded ranges and layout only.
  std::vector<SinkSpec> sinks;
  std::optional<DecodeSpec> decode;
  std::vector<CommittedFile> files;  // every file the batch writes, by sink and path below its root
  // Offsets [start, end) per partition that Kafka had deleted before they were read and that
  // FAIL_ON_DATA_LOSS=false skipped: the only gap `kpipe verify` accepts between this batch and
  // the previous one. Written only when not empty; absent in entries before kpipe 0.3.
  std::vector<PartitionRange> skipped;
  // DT_COMPLETE_AFTER: the event-time watermarks and complete days after this batch, and the
  // day markers it writes. Absent when the setting was off, and in entries of kpipe before 0.3.
  std::optional<DayPlan> days;
  // GROUP_ID: the owner epoch of each partition the batch was planned under (group_claims.h).
  // Once one of them moved in the Delta log the batch can never commit, so an instance that sweeps
  // may remove its files even where it cannot tell whether the writer still runs (S3).
  std::map<int32_t, int64_t> epochs;
  bool operator==(const OffsetsEntry&) const = default;
};

struct CommitEntry {
  int64_t batch_id = 0;
  int64_t committed_at_ms = 0;
  std::string writer;  // the process that committed it ("" in entries of kpipe 0.1)
  int64_t input_rows = 0;
  int64_t output_rows = 0;
  int64_t dead_letter_rows = 0;
  std::vector<CommittedFile> files;
  // The days whose dt=D/_SUCCESS markers the batch wrote (DT_COMPLETE_AFTER); absent when off.
  std::optional<std::vector<int32_t>> completed_days;
  bool operator==(const CommitEntry&) const = default;
};

std::string serialize_offsets(const OffsetsEntry& entry);
Result<OffsetsEntry> parse_offsets(std::string_view json, std::string_view file_for_errors);
std::string serialize_commit(const CommitEntry& entry);
Result<CommitEntry> parse_commit(std::string_view json, std::string_view file_for_errors);

// Makes `dir` and takes the checkpoint's writer lock (`dir`/lock, flock'ed), so that a second
// `kpipe stream` on it stops at start: StatusCode::kLocked, with a message naming the checkpoint
// and the process that holds it. The kernel drops the lock of a process that died, so a stale
// lock is taken over without manual steps. Where the file system cannot lock (some NFS mounts)
// this warns and returns null: the create-if-absent entries still let only one writer commit.
Result<std::unique_ptr<FileLock>> lock_checkpoint(FileSystem& fs, const std::string& dir);

// "pid 1234 on host h, started 2026-12-01T23:10:00.000Z": who holds a checkpoint, in messages.
std::string owner_line();

class Checkpoint {
 public:
  // Opens the checkpoint in `dir`, creating it (with a new query id) when absent. A checkpoint
  // made for another topic is refused: its offsets mean nothing there. `group_id` (GROUP_ID, ""
  // = none) is recorded in the metadata of a new checkpoint; one made with another group, or
  // with none, is refused (kInvalidArgument naming both): a group's offsets live in the Delta
  // log, a single instance's in offsets/N, and neither may continue the other's.
  static Result<std::unique_ptr<Checkpoint>> open(std::shared_ptr<FileSystem> fs, std::string dir, std::string topic,
                                                  std::string group_id = "");

  const std::string& query_id() const { return query_id_; }
  bool created_now() const { return created_now_; }
  const std::string& dir() const { return dir_; }
  // This process's writer id, recorded in the entries it writes.
  const std::string& writer() const { return writer_; }

  // The newest entries of each log, read at open() and kept current by the writes below.
  const std::optional<OffsetsEntry>& latest_offsets() const { return latest_offsets_; }
  const std::optional<CommitEntry>& latest_commit() const { return latest_commit_; }

  // The batch whose offsets were written but whose commit was not: it must be re-run with
  // exactly its recorded ranges before anything new is planned.
  std::optional<OffsetsEntry> pending_batch() const;

  // Create offsets/N and commits/N, only if absent, stamped with writer(): StatusCode::kAlreadyExists
  // (fatal) when another writer made the entry first. When this process made it in an earlier
  // try that failed after the rename, write_commit succeeds and write_offsets returns a retriable
  // error with the recorded entry as pending_batch(), to be replayed as recorded.
  Status write_offsets(const OffsetsEntry& entry);
  Status write_commit(const CommitEntry& entry);
  // Deletes entries older than the newest `retain` of each log.
  Status purge(int retain = 100);

 private:
  Checkpoint(std::shared_ptr<FileSystem> fs, std::string dir) : fs_(std::move(fs)), dir_(std::move(dir)) {}
  Status load();

  std::shared_ptr<FileSystem> fs_;
  std::string dir_;
  std::string query_id_;
  std::string writer_;
  bool created_now_ = false;
  std::optional<OffsetsEntry> latest_offsets_;
  std::optional<CommitEntry> latest_commit_;
};

// A fresh random id (RFC 4122 version 4 text form).
std::string new_query_id();

}  // namespace kpipe
