// Step 5 of the batch protocol: the commit targets of a batch, as a chain.
//
// After every file of batch N has its final name, each committer of the chain records the
// batch, in order; the checkpoint's commit log (commits/N) is always the last, so "commits/N
// exists" means every target before it has the batch. A table log (Delta Lake) or a catalog
// (Iceberg) is another Committer placed before it — a new file, not an edit of the engine.
//
// A crash between two committers leaves the batch pending: the replay publishes the same files
// again and asks each committer whether it has the batch already (has_committed), so no target
// records a batch twice.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/checkpoint.h"

namespace kpipe {

class Committer {
 public:
  virtual ~Committer() = default;
  virtual std::string_view name() const = 0;
  // True when this target recorded batch `entry.batch_id` already.
  virtual Result<bool> has_committed(const OffsetsEntry& entry) = 0;
  // Records the batch: `commit` lists its files and counts. Create-if-absent where the target
  // allows it, so that a second writer's commit of the same batch fails.
  virtual Status commit(const OffsetsEntry& entry, const CommitEntry& commit) = 0;
};

// The checkpoint's commit log: commits/N.
std::unique_ptr<Committer> make_checkpoint_committer(Checkpoint& checkpoint);

// Runs the chain for one batch: skips the committers that have the batch, commits the others in
// order, and stops at the first error. `after` runs after each committer that committed (the
// crash points of the tests); its error stops the chain as well.
Status commit_batch(const std::vector<std::unique_ptr<Committer>>& chain, const OffsetsEntry& entry,
                    const CommitEntry& commit, const std::function<Status(const Committer&)>& after = nullptr);

}  // namespace kpipe
