// GROUP_ID: the trigger loop's batch step for an instance of a consumer group
// (docs/design.md, "Several instances, one consumer group"). Per batch:
//
//   (1) ownership  — the partitions the group assigns this instance now (GroupMembership); a
//                    revocation waits until the batch ends
//   (2) claim      — partitions new to it: their owner epochs raised in one Delta commit
//                    (claim_partitions), then the directories of dead instances swept
//                    (sweep_dead_members); each partition starts after its offset in the table
//   (3) plan, run  — the batch protocol (BatchRunner) over the claimed partitions, its write-ahead
//                    entry in this process's member checkpoint; the Delta commit carries each
//                    partition's offset txn and is refused (kFenced) if an epoch moved
//   (4) offsets    — the table's offsets committed to the consumer group
//
// A batch that fails is settled before the next one: if the table has it (its writer txn), its
// member entry is closed; if not, its files are removed and the entry closed as abandoned. A
// partition whose epoch moved (a zombie's) is dropped and not claimed again until the group
// assigns it anew.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/file_system.h"
#include "config/stream_options.h"
#include "engine/batch_runner.h"
#include "engine/checkpoint.h"
#include "engine/committer.h"
#include "engine/group_claims.h"
#include "engine/job_status.h"
#include "engine/lag_tracker.h"
#include "kafka/group_member.h"

namespace kpipe {

struct GroupRunSeams {
  std::shared_ptr<FileSystem> fs;
  Checkpoint* member_checkpoint = nullptr;  // this process's, CHECKPOINT_PATH/members/<name>
  std::string member_name;                  // <name>
  std::string query_id;                     // the group's (the shared checkpoint's)
  Committer* delta = nullptr;               // the table's committer (its snapshot is read here)
  RecordSource* source = nullptr;
  BatchRunner* runner = nullptr;
  GroupMembership* member = nullptr;
  LagTracker* lag = nullptr;
  JobStatus* status = nullptr;
  // Shared with the Delta committer's guard, which checks each batch against them.
  std::shared_ptr<std::map<int32_t, Claim>> claims;
};

class GroupRun {
 public:
  GroupRun(const StreamOptions& options, GroupRunSeams seams);

  // One batch over the partitions owned now; returns rows planned (0 = nothing new, or the
  // batch was fenced and abandoned).
  Result<int64_t> next_batch(const std::atomic<bool>& stop);
  // The last plan left data for an immediate next batch.
  bool more_available() const { return more_available_; }
  // The next offset to read of each claimed partition: the lag's committed side.
  std::map<int32_t, int64_t> committed() const;
  int64_t fenced_batches() const { return fenced_batches_; }
  // The group has rebalanced since the last batch started: the trigger wait ends early, so that a
  // partition assigned now is claimed and read now, not a TRIGGER_SECONDS later.
  bool rebalanced() const { return s_.member->view().rebalances != seen_rebalances_; }

 private:
  // Claims the owned partitions that are new to this instance; drops those it no longer owns.
  Status update_claims(const GroupView& view);
  // Closes a batch the member checkpoint has pending (committed or abandoned).
  Status settle(const Status& failure);
  void publish_status(const GroupView& view);

  const StreamOptions& opt_;
  GroupRunSeams s_;
  std::map<int32_t, int64_t> claimed_assignment_;  // partition → the assignment number it was claimed under
  std::map<int32_t, int64_t> lost_;                // partition → the assignment number it was fenced under
  bool more_available_ = false;
  int64_t fenced_batches_ = 0;
  int64_t seen_rebalances_ = 0;
};

}  // namespace kpipe
