#include "engine/job_status.h"

#include <algorithm>
#include <cmath>

#include "common/json_writer.h"
#include "common/time_format.h"

namespace kpipe {

const char* job_state_name(JobState s) {
  switch (s) {
    case JobState::kStarting: return "starting";
    case JobState::kRunning: return "running";
    case JobState::kWaitingForData: return "waiting for data";
    case JobState::kRetrying: return "retrying";
    case JobState::kFailed: return "failed";
    case JobState::kStopped: return "stopped";
  }
  return "?";
}

std::string progress_json(const BatchProgress& p, std::string_view query_id) {
  JsonWriter w;
  w.begin_object()
      .field("id", query_id)
      .field("batchId", p.batch_id)
      .field("timestampMs", p.started_at_ms)
      .field("replay", p.replay)
      .field("numInputRows", p.num_input_rows)
      .field("inputRowsPerSecond", p.input_rows_per_second)
      .field("processedRowsPerSecond", p.processed_rows_per_second);
  w.key("durationMs").begin_object();
  for (const auto& [phase, ms] : p.duration_ms) w.field(phase, ms);
  w.end_object();
  w.key("sources").begin_array();
  for (const auto& r : p.ranges) {
    w.begin_object()
        .field("partition", r.partition)
        .field("startOffset", r.start)
        .field("endOffset", r.end)
        .end_object();
  }
  w.end_array();
  w.key("sinks").begin_object();
  for (const auto& s : p.sinks) {
    w.key(s.sink).begin_object().field("rows", s.rows).field("files", s.files).field("bytes", s.bytes).end_object();
  }
  w.end_object();
  w.field("deadLettered", p.dead_lettered).field("skippedBadRecords", p.skipped_bad);
  w.key("dataLoss").begin_array();
  for (const auto& d : p.data_loss) w.value(d);
  w.end_array();
  if (p.late_rows > 0 || !p.completed_days.empty()) {  // DT_COMPLETE_AFTER
    char day[16];
    w.field("lateRows", p.late_rows).key("completedDays").begin_array();
    for (int32_t d : p.completed_days) w.value(std::string_view(day, format_date(d, day) - day));
    w.end_array();
  }
  w.end_object();
  return w.take();
}

void JobStatus::set_query_id(std::string id) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.query_id = std::move(id);
  if (s_.started_at_ms == 0) {
    s_.started_at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
  }
}

void JobStatus::set_state(JobState st, std::string detail) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.state = st;
  s_.state_detail = std::move(detail);
}

void JobStatus::set_current_batch(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.current_batch = id;
}

double oldest_uncommitted_age_seconds(const PartitionLag& lag, int64_t now_ms) {
  if (lag.records() == 0) return 0;
  if (lag.oldest_uncommitted_ms < 0) return std::nan("");
  // A producer's clock ahead of ours would make the age negative.
  return static_cast<double>(std::max<int64_t>(0, now_ms - lag.oldest_uncommitted_ms)) / 1000.0;
}

void JobStatus::set_lag(std::vector<PartitionLag> lag, int64_t sampled_at_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.lag = std::move(lag);
  if (sampled_at_ms > 0) s_.lag_sampled_at_ms = sampled_at_ms;
}

void JobStatus::record_error(const char* kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++s_.errors_by_kind[kind];
}

void JobStatus::set_complete_through(int32_t day) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!s_.complete_through || day > *s_.complete_through) s_.complete_through = day;
}

void JobStatus::set_group(GroupStatus g) {
  // Sorted here, once per rebalance, so every reader can rely on it whatever order the
  // assignment came in.
  std::sort(g.owned.begin(), g.owned.end());
  std::lock_guard<std::mutex> lock(mu_);
  s_.group = std::move(g);
}

void JobStatus::add_batch(const BatchProgress& p) {
  std::lock_guard<std::mutex> lock(mu_);
  s_.total_late_rows += p.late_rows;
  if (p.complete_through && (!s_.complete_through || *p.complete_through > *s_.complete_through)) {
    s_.complete_through = p.complete_through;
  }
  s_.last_committed_batch = p.batch_id;
  s_.total_input_rows += p.num_input_rows;
  s_.total_dead_lettered += p.dead_lettered;
  for (const auto& sp : p.sinks) {
    auto& t = s_.sink_totals[sp.sink];
    t.sink = sp.sink;
    t.rows += sp.rows;
    t.files += sp.files;
    t.bytes += sp.bytes;
  }
  for (const auto& o : p.outputs) {
    auto& cell = s_.files_per_day[o.sink][o.day];
    cell.first += o.files;
    cell.second += o.rows;
  }
  for (const auto& r : p.ranges) {
    for (auto& l : s_.lag) {
      if (l.partition != r.partition || l.committed == r.end) continue;
      l.committed = r.end;
      l.latest = std::max(l.latest, r.end);
      l.oldest_uncommitted_ms = -1;  // the next record's, once the lag tracker has it
    }
  }
  ++s_.total_batches;
  for (const auto& [phase, ms] : p.duration_ms) {
    if (phase == "total") s_.total_batch_duration_ms += ms;
  }
  history_.push_back(p);
  while (history_.size() > keep_) history_.pop_front();
}

StatusSnapshot JobStatus::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  StatusSnapshot copy = s_;
  copy.batch_duration_ms.clear();
  for (const auto& p : history_) {
    for (const auto& [phase, ms] : p.duration_ms) {
      if (phase == "total") copy.batch_duration_ms.push_back(static_cast<double>(ms));
    }
  }
  return copy;
}

std::vector<BatchProgress> JobStatus::last(size_t n) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t from = history_.size() > n ? history_.size() - n : 0;
  return std::vector<BatchProgress>(history_.begin() + static_cast<std::ptrdiff_t>(from), history_.end());
}

bool JobStatus::healthy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return is_healthy(s_.state);
}

}  // namespace kpipe
