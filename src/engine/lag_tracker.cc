#include "engine/lag_tracker.h"

#include <algorithm>
#include <vector>

namespace kpipe {
namespace {

int64_t system_wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LagTracker::LagTracker(RecordSource& source, JobStatus& status, Clock& clock, LagTrackerOptions options,
                       std::function<int64_t()> wall_ms)
    : source_(source),
      status_(status),
      clock_(clock),
      options_(options),
      wall_ms_(wall_ms ? std::move(wall_ms) : system_wall_ms) {}

void LagTracker::set_committed(const std::map<int32_t, int64_t>& committed) {
  for (auto it = parts_.begin(); it != parts_.end();) {
    if (!committed.count(it->first) && it->second.committed >= 0) {
      it = parts_.erase(it);
      dirty_ = true;
    } else {
      ++it;
    }
  }
  for (const auto& [p, offset] : committed) {
    Partition& part = parts_[p];
    if (part.committed == offset) continue;
    part.committed = offset;
    // Another record is now the oldest uncommitted one.
    part.oldest_ms = -1;
    part.oldest_exact = false;
    dirty_ = true;
  }
}

void LagTracker::set_latest(const std::map<int32_t, Watermarks>& marks) {
  for (const auto& [p, w] : marks) {
    Partition& part = parts_[p];
    if (part.latest != w.high) dirty_ = true;
    part.latest = w.high;
  }
  last_sample_ = clock_.now();
  sampled_ = true;
  sampled_at_ms_ = wall_ms_();
}

void LagTracker::tick() {
  if (parts_.empty()) return;
  if (!sampled_ || clock_.now() - last_sample_ >= options_.sample_every) sample();
  find_oldest();
  if (dirty_) publish();
}

void LagTracker::sample() {
  std::vector<int32_t> ids;
  for (const auto& [p, part] : parts_) {
    if (part.committed >= 0) ids.push_back(p);
  }
  // Counted from the start of this sample, so a slow request does not shift the next one.
  last_sample_ = clock_.now();
  sampled_ = true;
  if (ids.empty()) return;
  std::map<int32_t, int64_t> cached = source_.cached_high_watermarks(ids);
  std::vector<int32_t> ask;
  for (int32_t p : ids) {
    if (!cached.count(p)) ask.push_back(p);
  }
  bool complete = true;
  if (!ask.empty()) {
    ++queries_;
    auto asked = source_.high_watermarks(ask, options_.query_timeout);
    if (asked.ok()) {
      cached.insert(asked->begin(), asked->end());
    } else {
      complete = false;  // the others keep their last value; the job's own errors say why
    }
  }
  // A fetch response's copy may be older than what the planner just asked for; a high
  // watermark only grows, so the larger is the newer.
  for (const auto& [p, high] : cached) {
    Partition& part = parts_[p];
    const int64_t latest = std::find(ask.begin(), ask.end(), p) == ask.end() ? std::max(part.latest, high) : high;
    if (part.latest != latest) dirty_ = true;
    part.latest = latest;
  }
  if (complete || !cached.empty()) {
    sampled_at_ms_ = wall_ms_();
    dirty_ = true;
  }
}

void LagTracker::find_oldest() {
  for (auto& [p, part] : parts_) {
    if (part.committed < 0) continue;
    if (part.latest <= part.committed) {
      if (part.oldest_ms >= 0) dirty_ = true;
      part.oldest_ms = -1;
      part.oldest_exact = false;
      continue;
    }
    if (part.oldest_exact) continue;
    if (auto ts = source_.held_timestamp_ms(p, part.committed); ts && *ts >= 0) {
      part.oldest_ms = *ts;
      part.oldest_exact = true;
      dirty_ = true;
    } else if (part.oldest_ms < 0) {
      part.oldest_ms = wall_ms_();
      dirty_ = true;
    }
  }
}

void LagTracker::publish() {
  std::vector<PartitionLag> lag;
  for (const auto& [p, part] : parts_) {
    if (part.committed < 0) continue;
    lag.push_back(PartitionLag{p, part.committed, std::max(part.latest, part.committed), part.oldest_ms});
  }
  status_.set_lag(std::move(lag), sampled_at_ms_);
  dirty_ = false;
}

}  // namespace kpipe
