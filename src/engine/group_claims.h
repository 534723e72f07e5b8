// GROUP_ID's per-partition truth in the Delta log (docs/design.md, "Several instances, one
// consumer group"): txn actions that every instance of the group reads.
//
//   kpipe-<queryId>-p<P>         version = the last offset of partition P in the table
//   kpipe-<queryId>-p<P>-owner   version = P's owner epoch, raised by each instance assigned P
//   kpipe-<queryId>-w-<writer>   version = the last batch of that process (its member checkpoint's
//                                id): what makes a batch's commit idempotent, and tells a sweeper
//                                whether a dead process's last batch is in the table
//
// A batch commits partition P only when the version it follows still holds P's epoch as the
// batch's claim had it and P's offset at the batch's start - 1: a zombie whose partition moved
// on, or any second writer of P, fails that check (kFenced) and abandons its batch.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "delta/delta_actions.h"
#include "engine/checkpoint.h"
#include "kafka/record_source.h"

namespace kpipe {

std::string partition_app_id(std::string_view query_id, int32_t partition);
std::string owner_app_id(std::string_view query_id, int32_t partition);
std::string writer_app_id(std::string_view query_id, std::string_view writer);

// What this instance holds of a partition it was assigned.
struct Claim {
  int64_t epoch = 0;            // the owner epoch this instance raised it to
  std::optional<int64_t> last;  // the last offset of the partition in the table; none = nothing yet
  // Where reading starts while `last` is none: STARTING_OFFSETS resolved by the first plan.
  std::optional<int64_t> next;
  // The next offset to read: after `last`, else `next`; none = not planned yet.
  std::optional<int64_t> start() const { return last ? std::optional<int64_t>(*last + 1) : next; }
};

// The partition's claim as `table` has it (epoch 0 and no offset when it has neither txn).
Claim claim_in(const DeltaSnapshot& table, std::string_view query_id, int32_t partition);

// Raises the owner epoch of each of `partitions` in one commit (created if absent; other
// writers' commits in the way are read and the next version tried). `table` is caught up and
// then holds that commit. Returns each partition's claim as of it: from then on, a batch planned
// under an older epoch cannot commit the partition. `temp_owner`: as in DeltaTableSpec.
Result<std::map<int32_t, Claim>> claim_partitions(FileSystem& fs, const std::string& root, DeltaSnapshot& table,
                                                  std::string_view query_id, const std::vector<int32_t>& partitions,
                                                  std::string_view member, std::string_view temp_owner = {});

// True when the table holds batch `batch_id` of the process whose checkpoint has query id `writer`
// (its writer txn, writer_app_id, is at that batch or later).
bool writer_committed(const DeltaSnapshot& table, std::string_view query_id, std::string_view writer, int64_t batch_id);

// True when the batch of `entry` can never be committed any more: an owner epoch it was planned
// under (OffsetsEntry::epochs) has moved, or the table holds offsets from its start on. False
// for an entry without epochs (nothing can be told).
bool can_never_commit(const DeltaSnapshot& table, std::string_view query_id, const OffsetsEntry& entry);

// The txn actions a batch over `ranges` adds to its commit, when `before` (the version the commit
// would follow) still has each partition with rows under its claim; kFenced naming the first
// partition that moved otherwise.
Result<std::string> group_batch_txns(const DeltaSnapshot& before, std::string_view query_id,
                                     const std::map<int32_t, Claim>& claims, const std::vector<PartitionRange>& ranges,
                                     int64_t now_ms);

}  // namespace kpipe
