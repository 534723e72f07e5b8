#include "engine/batch_planner.h"

#include <algorithm>

namespace kpipe {
namespace {

// Spreads `cap` offsets over the partitions in proportion to how far behind each is, like
// Spark's maxOffsetsPerTrigger; every partition with data advances by at least one when the
// cap allows, and the split is deterministic.
void apply_cap(std::vector<PartitionRange>& ranges, int64_t cap) {
  int64_t total = 0;
  for (const auto& r : ranges) total += r.end - r.start;
  if (cap <= 0 || total <= cap) return;
  std::vector<int64_t> lag;
  int64_t given = 0;
  for (auto& r : ranges) {
    lag.push_back(r.end - r.start);
    int64_t share = static_cast<int64_t>(static_cast<long double>(lag.back()) * cap / total);
    r.end = r.start + share;
    given += share;
  }
  // Flooring leaves less than one offset per partition over: hand it out in partition order.
  for (size_t i = 0; given < cap; i = (i + 1) % ranges.size()) {
    if (ranges[i].end - ranges[i].start < lag[i]) {
      ++ranges[i].end;
      ++given;
    }
  }
}

}  // namespace

Result<Plan> plan_batch(const PlanInput& in) {
  Plan plan;
  std::map<int32_t, int64_t> previous_end;
  if (in.previous) {
    for (const auto& r : *in.previous) previous_end[r.partition] = r.end;
    for (const auto& [p, end] : previous_end) {
      if (!in.partitions.count(p)) {
        return Status::fatal("partition " + in.topic + "/" + std::to_string(p) +
                             " was read before but Kafka no longer has it: was the topic deleted or "
                             "recreated? Use a new CHECKPOINT_PATH to start over");
      }
    }
  }
  for (const auto& [p, w] : in.partitions) {
    PartitionRange r;
    r.partition = p;
    auto prev = previous_end.find(p);
    if (prev != previous_end.end()) {
      r.start = prev->second;
    } else if (!in.previous && in.starting == StartingOffsets::kLatest) {
      r.start = w.high;
    } else {
      r.start = w.low;
    }
    const std::string where = in.topic + "/" + std::to_string(p);
    if (r.start > w.high) {
      return Status::fatal("partition " + where + " ends at offset " + std::to_string(w.high) +
                           " but the checkpoint has read up to " + std::to_string(r.start) +
                           ": the topic was recreated or truncated. Use a new CHECKPOINT_PATH to start over");
    }
    if (r.start < w.low) {
      std::string what = "offsets " + std::to_string(r.start) + ".." + std::to_string(w.low - 1) + " of " + where +
                         " were deleted from Kafka before they were read";
      if (in.fail_on_data_loss) {
        return Status::fatal(what + " (FAIL_ON_DATA_LOSS=true; set it to false to skip them and go on)");
      }
      plan.data_loss.push_back(what);
      plan.skipped.push_back(PartitionRange{p, r.start, w.low});
      r.start = w.low;
    }
    r.end = w.high;
    auto stop = in.stop_at.find(p);
    if (stop != in.stop_at.end()) r.end = std::max(r.start, std::min(r.end, stop->second));
    plan.ranges.push_back(r);
  }
  apply_cap(plan.ranges, in.max_offsets_per_trigger);
  // The memory bound is not a trigger policy: what it leaves is read by the next batch right
  // away instead of at the next trigger.
  if (in.max_batch_records > 0 && plan.total() > in.max_batch_records) {
    apply_cap(plan.ranges, in.max_batch_records);
    plan.more_available = true;
  }
  return plan;
}

}  // namespace kpipe
