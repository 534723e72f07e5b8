#include "engine/group_run.h"

#include <algorithm>

#include "common/log.h"
#include "common/time_util.h"
#include "engine/batch_planner.h"
#include "engine/delta_committer.h"
#include "engine/group_members.h"

namespace kpipe {
namespace {

// How long a batch waits for a revocation under way to finish before it plans.
constexpr std::chrono::milliseconds kRevocationWait{10000};

// Marks the batch over when the step returns, however it returns.
struct BatchScope {
  GroupMembership* member;
  ~BatchScope() { member->end_batch(); }
};

}  // namespace

GroupRun::GroupRun(const StreamOptions& options, GroupRunSeams seams) : opt_(options), s_(std::move(seams)) {}

std::map<int32_t, int64_t> GroupRun::committed() const {
  std::map<int32_t, int64_t> next;
  for (const auto& [p, c] : *s_.claims) {
    if (auto start = c.start()) next[p] = *start;
  }
  return next;
}

Status GroupRun::update_claims(const GroupView& view) {
  auto& claims = *s_.claims;
  for (auto it = claims.begin(); it != claims.end();) {
    auto owned = view.owned.find(it->first);
    if (owned == view.owned.end() || owned->second != claimed_assignment_[it->first]) {
      claimed_assignment_.erase(it->first);
      it = claims.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<int32_t> fresh;
  for (const auto& [p, n] : view.owned) {
    auto lost = lost_.find(p);
    if (claims.count(p) || (lost != lost_.end() && lost->second == n)) continue;
    fresh.push_back(p);
  }
  if (fresh.empty()) return Status::success();
  KPIPE_ASSIGN_OR_RETURN(const DeltaSnapshot* current, delta_snapshot(*s_.delta));
  DeltaSnapshot table = *current;
  KPIPE_ASSIGN_OR_RETURN(auto got,
                         claim_partitions(*s_.fs, opt_.output_path, table, s_.query_id, fresh,
                                          view.member_id.empty() ? s_.member_name : view.member_id, s_.member_name));
  std::string from;
  std::map<int32_t, int64_t> next;
  for (const auto& [p, c] : got) {
    claims[p] = c;
    claimed_assignment_[p] = view.owned.at(p);
    lost_.erase(p);
    from += (from.empty() ? "" : ", ") + std::to_string(p) + " (epoch " + std::to_string(c.epoch) + ", " +
            (c.last ? "after offset " + std::to_string(*c.last) : std::string("new")) + ")";
    if (c.last) next[p] = *c.last + 1;
  }
  log_info("group", "claimed partitions " + from);
  // The group's offsets at once: its lag is right before this instance's first batch.
  s_.member->commit_offsets(next);
  auto swept = sweep_dead_members(s_.fs, opt_.checkpoint_path, opt_.output_path, s_.member_name, table, s_.query_id,
                                  opt_.topic, opt_.group_id);
  if (!swept.ok()) {
    log_warn("group", "sweeping stopped instances' files: " + swept.status().message() + " (tried again later)");
  } else if (swept->members > 0) {
    log_info("group", "swept " + std::to_string(swept->members) +
                          " stopped instance(s): " + std::to_string(swept->batches) + " uncommitted batch(es) removed");
  }
  return Status::success();
}

Status GroupRun::settle(const Status& failure) {
  Checkpoint& cp = *s_.member_checkpoint;
  auto pending = cp.pending_batch();
  KPIPE_ASSIGN_OR_RETURN(const DeltaSnapshot* table, delta_snapshot(*s_.delta));
  if (pending) {
    const bool in_table = writer_committed(*table, s_.query_id, cp.query_id(), pending->batch_id);
    CommitEntry close;
    close.batch_id = pending->batch_id;
    close.committed_at_ms = wall_clock_ms();
    close.writer = cp.writer();
    if (in_table) {
      close.files = pending->files;
    } else {
      // Abandoned: no file of it stays, and its entry is closed with none, so the next batch
      // can be planned (one pending entry at most).
      KPIPE_RETURN_IF_ERROR(remove_batch_files(*s_.fs, *pending));
      log_warn("group", "batch " + std::to_string(pending->batch_id) + " abandoned (" + failure.message() + "): its " +
                            std::to_string(pending->files.size()) + " file(s) removed");
    }
    KPIPE_RETURN_IF_ERROR(cp.write_commit(close));
  }
  // Partitions whose epoch moved belong to another instance now: dropped until assigned anew.
  auto& claims = *s_.claims;
  for (auto it = claims.begin(); it != claims.end();) {
    const Claim now = claim_in(*table, s_.query_id, it->first);
    if (now.epoch != it->second.epoch) {
      log_warn("group", "partition " + std::to_string(it->first) + " was claimed by another instance (owner epoch " +
                            std::to_string(now.epoch) + "): dropped until the group assigns it to this one again");
      lost_[it->first] = claimed_assignment_[it->first];
      claimed_assignment_.erase(it->first);
      it = claims.erase(it);
      continue;
    }
    if (now.last) it->second.last = now.last;
    ++it;
  }
  return Status::success();
}

void GroupRun::publish_status(const GroupView& view) {
  GroupStatus g;
  g.group_id = opt_.group_id;
  g.member_id = view.member_id;
  for (const auto& [p, c] : *s_.claims) g.owned.push_back(p);
  g.rebalances = view.rebalances;
  g.fenced_batches = fenced_batches_;
  g.last_rebalance_at_ms = view.last_rebalance_ms;
  s_.status->set_group(std::move(g));
}

Result<int64_t> GroupRun::next_batch(const std::atomic<bool>& stop) {
  more_available_ = false;
  if (s_.member_checkpoint->pending_batch()) {
    KPIPE_RETURN_IF_ERROR(settle(Status::retriable("an earlier attempt failed")));
  }
  const GroupView view = s_.member->begin_batch(kRevocationWait);
  BatchScope scope{s_.member};
  seen_rebalances_ = view.rebalances;
  Status claimed = update_claims(view);
  publish_status(view);
  KPIPE_RETURN_IF_ERROR(claimed);
  auto& claims = *s_.claims;
  std::vector<int32_t> parts;
  for (const auto& [p, c] : claims) parts.push_back(p);
  s_.source->keep_only(parts);
  if (parts.empty()) {
    s_.lag->set_committed({});
    s_.lag->tick();
    return int64_t{0};
  }
  KPIPE_ASSIGN_OR_RETURN(auto marks, s_.source->watermarks(parts));
  PlanInput in;
  in.topic = opt_.topic;
  in.partitions = marks;
  in.previous.emplace();
  for (int32_t p : parts) {
    Claim& c = claims[p];
    if (!c.start()) c.next = opt_.starting_earliest ? marks[p].low : marks[p].high;  // STARTING_OFFSETS
    in.previous->push_back(PartitionRange{p, *c.start(), *c.start()});
  }
  in.max_offsets_per_trigger = opt_.max_offsets_per_trigger;
  in.max_batch_records = opt_.max_batch_records;
  in.fail_on_data_loss = opt_.fail_on_data_loss;
  in.held = s_.source->held_ranges();
  const auto& last_batch = s_.member_checkpoint->latest_offsets();
  in.batch_id = last_batch ? last_batch->batch_id + 1 : 0;
  KPIPE_ASSIGN_OR_RETURN(Plan plan, plan_batch(in));
  more_available_ = plan.more_available;
  for (const auto& d : plan.data_loss) log_warn("stream", d + " (FAIL_ON_DATA_LOSS=false: skipped)");
  s_.lag->set_latest(marks);
  s_.lag->set_committed(committed());
  s_.lag->tick();
  if (plan.total() == 0) return int64_t{0};

  std::map<int32_t, bool> caught_up;
  for (const auto& r : plan.ranges) caught_up[r.partition] = r.end >= marks[r.partition].high;
  const int64_t batch_id = in.batch_id;
  std::map<int32_t, int64_t> epochs;
  for (const auto& r : plan.ranges) epochs[r.partition] = claims[r.partition].epoch;
  const int64_t planned = plan.total();
  Status st = s_.runner->run_new(batch_id, plan.ranges, plan.data_loss, plan.skipped, caught_up, stop, epochs);
  if (!st.ok()) {
    KPIPE_RETURN_IF_ERROR(settle(st));
    if (st.code() != StatusCode::kFenced) return st;
    ++fenced_batches_;
    publish_status(view);
    more_available_ = true;  // plan again at once, without the partitions that moved
    return int64_t{0};
  }
  if (plan.total() < planned) more_available_ = true;  // MAX_BATCH_BYTES ended it: the rest at once
  std::map<int32_t, int64_t> next;
  for (const auto& r : plan.ranges) {
    if (r.end > r.start) claims[r.partition].last = r.end - 1;
    if (auto start = claims[r.partition].start()) next[r.partition] = *start;
  }
  s_.member->commit_offsets(next);
  s_.lag->set_committed(committed());
  s_.lag->tick();
  return plan.total();
}

}  // namespace kpipe
