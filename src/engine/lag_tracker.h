// The consumer lag of `kpipe stream`, true between batches and not only when one is planned.
//
// Per partition:
//   committed  the end offsets of the last committed batch (from the checkpoint; before the
//              first commit, where the first batch starts), given by the job after each batch;
//   latest     the high watermark: read by the planner at each batch, and sampled every
//              `sample_every` in between. A partition the source is fetching needs no request:
//              every fetch response carries its high watermark and librdkafka keeps it
//              (RecordSource::cached_high_watermarks). Only the others — paused because their
//              share of the prefetch buffer is full, or not assigned yet — cost one ListOffsets
//              request per leader, with a deadline of `query_timeout`;
//   lag        latest - committed (0 when caught up);
//   oldest uncommitted record: the Kafka timestamp of the first record at or after committed
//              when the source holds it (RecordSource::held_timestamp_ms: the prefetched record
//              the next batch starts with, or the first record of the batch being read), else
//              the wall time the tracker first saw the partition behind, a lower bound that is
//              replaced as soon as the record arrives. The age is computed when it is read (now
//              - that time), so it grows between samples.
//
// Runs on the job thread, like every other use of the source: between batches from the trigger
// loop's waits (tick()), and at each plan and commit. A failed sample keeps the last values.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>

#include "common/clock.h"
#include "engine/job_status.h"
#include "kafka/record_source.h"

namespace kpipe {

struct LagTrackerOptions {
  std::chrono::milliseconds sample_every{2000};   // high-watermark samples between batches
  std::chrono::milliseconds query_timeout{2000};  // deadline of a ListOffsets request
};

class LagTracker {
 public:
  // `wall_ms`: ms since the epoch (null: the system clock); `clock` paces the samples.
  LagTracker(RecordSource& source, JobStatus& status, Clock& clock, LagTrackerOptions options,
             std::function<int64_t()> wall_ms = nullptr);

  // The committed offsets (see above). Partitions missing from `committed` are not reported.
  void set_committed(const std::map<int32_t, int64_t>& committed);
  // Watermarks the planner just read: a sample of every partition they hold.
  void set_latest(const std::map<int32_t, Watermarks>& marks);
  // Samples the high watermarks once `sample_every` has passed since the last sample, looks for
  // the oldest uncommitted records' timestamps, and publishes to JobStatus what changed.
  void tick();
  // When tick() next samples: the last sample plus `sample_every` (now, before the first).
  Clock::TimePoint next_sample_at() const { return sampled_ ? last_sample_ + options_.sample_every : clock_.now(); }

  uint64_t queries() const { return queries_; }  // ListOffsets requests made (for tests)

 private:
  struct Partition {
    int64_t committed = -1;  // -1: not known yet
    int64_t latest = -1;
    int64_t oldest_ms = -1;
    bool oldest_exact = false;  // oldest_ms is the record's own timestamp
  };
  void sample();
  void find_oldest();
  void publish();

  RecordSource& source_;
  JobStatus& status_;
  Clock& clock_;
  LagTrackerOptions options_;
  std::function<int64_t()> wall_ms_;
  std::map<int32_t, Partition> parts_;
  Clock::TimePoint last_sample_{};
  bool sampled_ = false;
  int64_t sampled_at_ms_ = 0;
  bool dirty_ = false;
  uint64_t queries_ = 0;
};

}  // namespace kpipe
