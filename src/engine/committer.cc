#include "engine/committer.h"

namespace kpipe {
namespace {

class CheckpointCommitter final : public Committer {
 public:
  explicit CheckpointCommitter(Checkpoint& checkpoint) : checkpoint_(checkpoint) {}
  std::string_view name() const override { return "checkpoint"; }
  Result<bool> has_committed(const OffsetsEntry& entry) override {
    const auto& last = checkpoint_.latest_commit();
    return last && last->batch_id >= entry.batch_id;
  }
  Status commit(const OffsetsEntry&, const CommitEntry& commit) override { return checkpoint_.write_commit(commit); }

 private:
  Checkpoint& checkpoint_;
};

}  // namespace

std::unique_ptr<Committer> make_checkpoint_committer(Checkpoint& checkpoint) {
  return std::make_unique<CheckpointCommitter>(checkpoint);
}

Status commit_batch(const std::vector<std::unique_ptr<Committer>>& chain, const OffsetsEntry& entry,
                    const CommitEntry& commit, const std::function<Status(const Committer&)>& after) {
  for (const auto& c : chain) {
    KPIPE_ASSIGN_OR_RETURN(bool done, c->has_committed(entry));
    if (done) continue;
    Status st = c->commit(entry, commit);
    if (!st.ok()) return st.with_context(std::string(c->name()) + " commit of batch " + std::to_string(entry.batch_id));
    if (after) KPIPE_RETURN_IF_ERROR(after(*c));
  }
  return Status::success();
}

}  // namespace kpipe
