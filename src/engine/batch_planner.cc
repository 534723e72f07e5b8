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

// MAX_BATCH_RECORDS (see batch_planner.h): deterministic for given inputs.
constexpr int64_t kPartitionsPerCutBatch = 8;

// Only called when the ranges hold more than `cap` (> 0) offsets.
void apply_memory_cap(std::vector<PartitionRange>& ranges, int64_t cap, const std::vector<PartitionRange>& held,
                      int64_t batch_id) {
  std::vector<size_t> behind;  // indexes of the partitions with something to read, in partition order
  for (size_t i = 0; i < ranges.size(); ++i) {
    if (ranges[i].end > ranges[i].start) behind.push_back(i);
  }
  const auto m = static_cast<int64_t>(behind.size());
  std::vector<int64_t> lag(ranges.size(), 0), given(ranges.size(), 0);
  for (size_t i : behind) lag[i] = ranges[i].end - ranges[i].start;
  const int64_t held_share = cap - cap / 4;
  int64_t left = held_share;                 // step 1's share first; the rest of the cap is added after it
  auto give = [&](size_t i, int64_t upto) {  // raises partition i's share to `upto`, within its lag and the cap
    const int64_t more = std::clamp<int64_t>(std::min(upto, lag[i]) - given[i], 0, left);
    given[i] += more;
    left -= more;
  };
  // 1. What the source holds in memory from a range's start, largest first, up to three quarters
  //    of the cap (the last quarter always goes round, so no partition waits for ever): reading
  //    it frees it, and it is read without waiting for a fetch.
  std::vector<std::pair<int64_t, size_t>> in_memory;
  for (size_t i : behind) {
    for (const auto& h : held) {
      if (h.partition == ranges[i].partition && h.start == ranges[i].start && h.end > h.start) {
        in_memory.emplace_back(h.end - h.start, i);
      }
    }
  }
  std::sort(in_memory.begin(), in_memory.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  for (const auto& [n, i] : in_memory) give(i, n);
  left += cap - held_share;
  // 2. A slice each for a few partitions, from a place that moves on every batch (by a quarter
  //    of the spread, so that the quarter of the cap left after step 1 reaches every partition
  //    in turn); then, in the same order, whatever the cap still allows.
  const int64_t spread = std::min(m, kPartitionsPerCutBatch);
  const int64_t slice = (cap + spread - 1) / spread;
  const int64_t step = std::max<int64_t>(spread / 4, 1);
  const int64_t first = (batch_id % m) * step % m;
  auto nth = [&](int64_t k) { return behind[static_cast<size_t>((first + k) % m)]; };
  for (int64_t k = 0; k < m && left > 0; ++k) give(nth(k), slice);
  for (int64_t k = 0; k < m && left > 0; ++k) give(nth(k), lag[nth(k)]);
  for (size_t i = 0; i < ranges.size(); ++i) ranges[i].end = ranges[i].start + given[i];
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
    apply_memory_cap(plan.ranges, in.max_batch_records, in.held, in.batch_id);
    plan.more_available = true;
  }
  return plan;
}

}  // namespace kpipe
