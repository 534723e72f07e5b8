// What `kpipe stream` is doing, for the log, the status page, /api/* and /metrics.
// Written by the job thread after each step, read by the HTTP server thread; every accessor
// copies under a mutex, so readers never see a half-updated batch.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kafka/source.h"

namespace kpipe {

enum class JobState { kStarting, kRunning, kWaitingForData, kRetrying, kFailed, kStopped };
const char* job_state_name(JobState s);  // "starting", "running", "waiting for data", ...
// Healthy (/healthz 200, "healthy" in /api/status) unless retrying or failed.
inline bool is_healthy(JobState s) { return s != JobState::kRetrying && s != JobState::kFailed; }

struct SinkProgress {
  std::string sink;  // "parquet", "csv", "dead-letter", "console"
  int64_t rows = 0;
  int64_t files = 0;
  int64_t bytes = 0;
};

// One line of progress per batch, as Spark's StreamingQueryProgress.
struct BatchProgress {
  int64_t batch_id = 0;
  int64_t started_at_ms = 0;  // wall clock, epoch ms
  bool replay = false;        // re-run of a batch whose commit was missing
  int64_t num_input_rows = 0;
  double input_rows_per_second = 0;      // rows of this batch / time since the previous batch started
  double processed_rows_per_second = 0;  // rows of this batch / this batch's duration
  std::vector<std::pair<std::string, int64_t>> duration_ms;  // phase → ms, in protocol order, then "total"
  std::vector<PartitionRange> ranges;
  std::vector<SinkProgress> sinks;
  int64_t dead_lettered = 0;
  int64_t skipped_bad = 0;             // ON_BAD_RECORD=skip
  std::vector<std::string> data_loss;  // FAIL_ON_DATA_LOSS=false: what was skipped
  struct DayOutput {
    std::string sink;
    int32_t day = 0;  // dt as days since 1970-01-01
    int64_t files = 0;
    int64_t rows = 0;
  };
  std::vector<DayOutput> outputs;  // per sink and dt partition
  // DT_COMPLETE_AFTER: rows of days complete before the batch, the days it marked complete, and
  // the last complete day after it (days since 1970-01-01).
  int64_t late_rows = 0;
  std::vector<int32_t> completed_days;
  std::optional<int32_t> complete_through;
};
std::string progress_json(const BatchProgress& p, std::string_view query_id);

// Consumer lag of one partition (engine/lag_tracker.h keeps it true between batches).
struct PartitionLag {
  int32_t partition = 0;
  int64_t committed = 0;  // end offset of the last committed batch: where the next batch starts
  int64_t latest = 0;     // high watermark, sampled every few seconds
  // When the oldest uncommitted record (the first at or after `committed`) was written, ms since
  // the epoch: its Kafka timestamp when the job holds it, otherwise when the job first saw the
  // partition behind (a lower bound of the age). -1 when caught up or not known yet.
  int64_t oldest_uncommitted_ms = -1;
  int64_t records() const { return latest > committed ? latest - committed : 0; }
};
// Seconds since the oldest uncommitted record was written at `now_ms`: 0 when caught up, NaN
// when behind but not known yet.
double oldest_uncommitted_age_seconds(const PartitionLag& lag, int64_t now_ms);

// This instance's place in a consumer group (GROUP_ID), as the engine last reported it.
struct GroupStatus {
  std::string group_id;              // GROUP_ID; empty = not in a group (single instance)
  std::string member_id;             // the consumer group member id librdkafka got ("" until joined)
  std::vector<int32_t> owned;        // partitions this instance owns now, sorted
  int64_t rebalances = 0;            // assignments and revocations this instance has gone through
  int64_t fenced_batches = 0;        // batches abandoned because another instance took a partition
  int64_t last_rebalance_at_ms = 0;  // wall clock of the last one, 0 = none yet
};

struct StatusSnapshot {
  std::string query_id;
  JobState state = JobState::kStarting;
  std::string state_detail;  // the error while retrying or failed
  int64_t started_at_ms = 0;
  int64_t last_committed_batch = -1;
  int64_t current_batch = -1;
  int64_t total_input_rows = 0;
  int64_t total_dead_lettered = 0;
  std::map<std::string, SinkProgress> sink_totals;
  std::map<std::string, int64_t> errors_by_kind;  // "retriable", "fatal", "replay"
  std::vector<PartitionLag> lag;
  int64_t lag_sampled_at_ms = 0;  // wall clock of the last high-watermark sample; 0 before the first
  // sink → dt day → {files, rows}
  std::map<std::string, std::map<int32_t, std::pair<int64_t, int64_t>>> files_per_day;
  std::vector<double> batch_duration_ms;    // of the batches kept, oldest first (for histograms)
  int64_t total_batches = 0;                // batches added since start (kept or not)
  int64_t total_batch_duration_ms = 0;      // sum of their "total" durations
  int64_t total_late_rows = 0;              // DT_COMPLETE_AFTER: rows of days already complete
  std::optional<int32_t> complete_through;  // DT_COMPLETE_AFTER: every dt up to this day is complete
  // GROUP_ID: absent until the engine calls set_group (a single instance never does), so the
  // status page, /api/status and /metrics show the group only when there is one.
  std::optional<GroupStatus> group;
};
// Whether this instance reports being in a consumer group (set_group with a GROUP_ID).
inline bool in_group(const StatusSnapshot& s) { return s.group && !s.group->group_id.empty(); }

class JobStatus {
 public:
  explicit JobStatus(size_t keep = 500) : keep_(keep) {}

  void set_query_id(std::string id);
  void set_state(JobState s, std::string detail = "");
  void set_current_batch(int64_t id);
  void set_lag(std::vector<PartitionLag> lag, int64_t sampled_at_ms = 0);
  void record_error(const char* kind);
  // The last complete day the checkpoint holds at start (DT_COMPLETE_AFTER).
  void set_complete_through(int32_t day);
  // GROUP_ID: the whole group state, replaced at once (after each rebalance or fenced batch).
  void set_group(GroupStatus g);
  // Adds a finished batch to history and totals; its end offsets become the lag's committed ones
  // in the same step, so no reader sees the batch committed and the lag from before it.
  void add_batch(const BatchProgress& p);

  StatusSnapshot snapshot() const;
  std::vector<BatchProgress> last(size_t n) const;  // oldest first
  bool healthy() const;                             // false while retrying or failed

 private:
  mutable std::mutex mu_;
  size_t keep_;
  StatusSnapshot s_;
  std::deque<BatchProgress> history_;
};

}  // namespace kpipe
