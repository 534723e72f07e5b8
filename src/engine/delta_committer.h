// The Delta Lake table of the Parquet output (PARQUET_TABLE_FORMAT=delta) as a Committer: one
// Delta commit per batch, created if absent, before the checkpoint's commits/N.
//
// Each commit holds commitInfo (STREAMING UPDATE, the batch id and its offsets), a txn action
// (appId = the query id, version = the batch id) and an add per Parquet file of the batch. The
// txn makes the replay of a batch safe: has_committed reads the latest txn version of the query
// from the log, so a batch already in the table is never added twice. Readers of the table see a
// batch whole or not at all; plain readers of the dt= folders see files one by one, as before.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/file_system.h"
#include "common/status.h"
#include "decode/schema.h"
#include "delta/delta_actions.h"
#include "engine/committer.h"

namespace kpipe {

inline constexpr std::string_view kQueryIdProperty = "kpipe.queryId";

struct DeltaTableSpec {
  std::string root;      // OUTPUT_PATH
  std::string query_id;  // the checkpoint's: the txn appId and the table's kpipe.queryId
  std::string topic;
  Schema schema;                      // the SCHEMA in force
  bool append = false;                // PARQUET_TABLE_APPEND: another query's table is accepted
  int64_t last_committed_batch = -1;  // the checkpoint's, for the warning about older batches
  // GROUP_ID (engine/group_claims.h): the txn that records which batches are in the table is this
  // process's (writer_app_id) instead of the query's, and `guard` sees the version each attempt
  // would follow: it returns the batch's per-partition txn actions, or an error (kFenced) that
  // abandons the commit. Unset: one writer, the query's txn.
  std::string batch_app_id;
  std::function<Result<std::string>(const DeltaSnapshot& before, const OffsetsEntry& entry)> guard;
  // GROUP_ID: the member's name, in the names of the log's temp files (write_atomically), so that
  // the instance that sweeps a killed member removes the ones it left.
  std::string temp_owner;
};

// The table's snapshot as the committer last saw it: GROUP_ID reads claims from it.
// Caught up with the log first.
Result<const DeltaSnapshot*> delta_snapshot(Committer& delta_committer);

// Opens the table at spec.root, creating version 0 (protocol, metaData) when there is none, and
// adds a metaData commit when SCHEMA gained nullable columns. kInvalidArgument (exit 2) when the
// table belongs to another query and append is false, needs a protocol kpipe cannot write, is
// partitioned otherwise than by dt, or has a schema the SCHEMA in force cannot write to (the
// message names both).
Result<std::unique_ptr<Committer>> open_delta_table(FileSystem& fs, const DeltaTableSpec& spec);

}  // namespace kpipe
