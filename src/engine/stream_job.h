// `kpipe stream`: the trigger loop around the batch protocol (batch_runner.h has the steps).
//
// On start: take the checkpoint's writer lock (a second writer stops here with kLocked), open
// the checkpoint, remove leftover hidden temp files, then loop: a batch with a write-ahead entry
// but no commit is re-run as its entry says; otherwise plan the next batch from the checkpoint
// and Kafka's watermarks (plan_batch) and run it. Batches start every TRIGGER_SECONDS, at once
// while a capped plan left more to read, or back to back with --once until the backlog present
// at start is written. Retriable errors are retried with back-off (500 ms doubling to 30 s);
// fatal ones end run().
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/status.h"
#include "common/wakeup.h"
#include "config/stream_options.h"
#include "engine/batch_runner.h"
#include "engine/checkpoint.h"
#include "engine/job_status.h"
#include "kafka/group_member.h"
#include "kafka/record_source.h"
#include "kafka/writer_fence.h"

namespace kpipe {

// What the job talks to. Tests give a fake source, a FaultyFileSystem, a crash hook that returns
// instead of killing the process, and a FakeClock; null members get the real ones.
struct StreamSeams {
  std::shared_ptr<FileSystem> fs;        // null: the local file system
  std::unique_ptr<RecordSource> source;  // null: KafkaSource::open at start
  CrashHook crash;                       // null: crash_point (KPIPE_TEST_CRASH_AT)
  Clock* clock = nullptr;                // null: the steady clock; paces triggers and back-off
  // The checkpoint's writer lock, when the caller took it already (lock_checkpoint) — the CLI does,
  // before it opens the status port, so a second writer hears about the checkpoint, not the port.
  std::optional<std::unique_ptr<FileLock>> checkpoint_lock;
  // How a checkpoint on an object store (no locks there) is held: null = acquire_kafka_fence.
  std::function<Result<std::unique_ptr<WriterFence>>(const WriterFenceOptions&)> acquire_fence;
  // How long a new holder of such a fence waits before it reads the checkpoint, so that a commit
  // the fenced holder had begun before it lost the fence has landed (see docs/design.md).
  std::chrono::milliseconds fence_grace{5000};
  // How often the consumer lag's high watermarks are sampled between batches (lag_tracker.h).
  std::chrono::milliseconds lag_sample_every{2000};
  // More observers of committed batches (the CLI's progress bar), after the job's own.
  std::vector<std::unique_ptr<BatchObserver>> observers;
  // With --once: called once with the backlog, in offsets, between the checkpoint and the high
  // watermarks --once will stop at (what the new batches of this run will read).
  std::function<void(int64_t)> once_backlog;
  // GROUP_ID: how this instance joins the consumer group. null = join_kafka_group.
  std::function<Result<std::unique_ptr<GroupMembership>>(const GroupOptions&)> join_group;
  // Notified by whoever sets `stop` (the CLI's signal handler) and, with GROUP_ID, by the group
  // membership after each rebalance (join_group receives it as GroupOptions::wakeup, and a
  // membership made by that seam must notify it too): the wait between batches then sleeps until
  // the trigger or the lag's next sample. null: it looks at `stop` and the group every 100 ms.
  Wakeup* wakeup = nullptr;
};

class StreamJob {
 public:
  StreamJob(StreamOptions options, std::shared_ptr<FileSystem> fs, std::shared_ptr<JobStatus> status);
  StreamJob(StreamOptions options, StreamSeams seams, std::shared_ptr<JobStatus> status);
  ~StreamJob();

  // Runs until `stop` is set, a fatal error, or (with --once) the backlog present at start is
  // written. Retriable errors are retried with back-off and reported through JobStatus.
  Status run(const std::atomic<bool>& stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Test hook: when KPIPE_TEST_CRASH_AT names `step` (optionally "step@batch"), the process kills
// itself with SIGKILL there, as a power cut would. Steps: after_offsets, after_read,
// after_temp_files, mid_rename, after_rename, after_markers (a batch that completes a day: its
// dt=D/_SUCCESS written, nothing committed), after_delta_commit (the table has the batch,
// commits/N not yet), after_commit.
void crash_point(const char* step, int64_t batch_id);

}  // namespace kpipe
