// The files of a Delta table's log (`<root>/_delta_log/`) through the FileSystem seam: the table
// as of its newest version, a new commit created only if absent, a checkpoint, and the removal
// of log files older than the retention that a checkpoint covers.
//
//   00000000000000000000.json                 version 0: protocol, metaData
//   00000000000000000001.json                 one commit per batch: commitInfo, txn, add...
//   00000000000000000010.checkpoint.parquet   the table at version 10, one action per row
//   _last_checkpoint                          {"version":10,...}: where readers start
//
// Commits are created with create_atomically (no-replace rename): of two writers of version N
// exactly one succeeds, the other gets kAlreadyExists and must read the log again.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"
#include "delta/delta_actions.h"

namespace kpipe {

std::string delta_log_dir(const std::string& root);
std::string delta_commit_name(int64_t version);      // 00000000000000000007.json
std::string delta_checkpoint_name(int64_t version);  // 00000000000000000010.checkpoint.parquet

// The table as of its newest version (the newest classic checkpoint, then the commits after it);
// version -1 when `root` has no log yet. A gap in the versions or an unreadable file is kDataLoss
// naming the file.
Result<DeltaSnapshot> load_snapshot(FileSystem& fs, const std::string& root);

// Applies the commits after `snapshot.version` that exist, in order (another writer's, after a
// conflict).
Status catch_up(FileSystem& fs, const std::string& root, DeltaSnapshot& snapshot);

// Creates commit `version` holding `actions` (JSON lines) if absent; kAlreadyExists if another
// writer created it first. `temp_owner`: as for create_atomically.
Status write_commit(FileSystem& fs, const std::string& root, int64_t version, std::string_view actions,
                    std::string_view temp_owner = {});

// Writes the checkpoint of `snapshot` at its version, then _last_checkpoint pointing at it.
Status write_checkpoint(FileSystem& fs, const std::string& root, const DeltaSnapshot& snapshot,
                        std::string_view temp_owner = {});

// Removes the log files no retained version needs: with C the newest checkpoint at or below
// `checkpoint_version` such that every commit before C was last modified before `cutoff_ms`,
// every commit and checkpoint below C. Returns how many files it removed.
Result<int> remove_expired_log_files(FileSystem& fs, const std::string& root, int64_t checkpoint_version,
                                     int64_t cutoff_ms);

// The table properties kpipe honours: delta.logRetentionDuration ("interval 30 days", the
// default) and delta.checkpointInterval (10). A value kpipe cannot parse is an error naming it.
Result<int64_t> log_retention_ms(const DeltaMetadata& metadata);
Result<int64_t> checkpoint_interval(const DeltaMetadata& metadata);

}  // namespace kpipe
