// GROUP_ID: each process of a group keeps its write-ahead entries in a checkpoint of its own,
// CHECKPOINT_PATH/members/<id>/ (a Checkpoint: offsets/N before a batch writes, commits/N after
// its Delta commit), locked while the process lives. Its files are named after that checkpoint's
// query id, so no two processes ever write the same name.
//
// A process that dies leaves its directory unlocked, and at most one batch pending in it. Any
// instance may then sweep it: the pending batch's files are removed unless the table has the
// batch (its writer txn, engine/group_claims.h), and the directory goes. A dead process cannot
// commit, so this is safe at any time; a live zombie keeps its lock and cleans up itself when
// its commit is refused.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"
#include "delta/delta_actions.h"
#include "engine/checkpoint.h"

namespace kpipe {

std::string members_dir(const std::string& checkpoint_path);

// Removes every file `entry` plans, under its final and its hidden name, from its sinks' roots.
Status remove_batch_files(FileSystem& fs, const OffsetsEntry& entry);

struct SweepResult {
  int members = 0;  // directories of dead processes removed
  int batches = 0;  // of them, pending batches whose files were removed
};

// Sweeps the directories of dead processes in members_dir(checkpoint_path), except `self`'s:
// the files of a pending batch the table does not have, and the temp files the process left in
// the Delta log of `table_root` (named after it: DeltaTableSpec::temp_owner).
// `table`: the Delta table as of now, to tell a pending batch that did commit.
Result<SweepResult> sweep_dead_members(std::shared_ptr<FileSystem> fs, const std::string& checkpoint_path,
                                       const std::string& table_root, std::string_view self, const DeltaSnapshot& table,
                                       std::string_view query_id, const std::string& topic,
                                       const std::string& group_id);

}  // namespace kpipe
