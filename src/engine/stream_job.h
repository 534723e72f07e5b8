// `kpipe stream`: the trigger loop and the batch protocol of DESIGN.md.
//
// For batch N:
//   1. plan      — ranges [start, end) per partition from the checkpoint and Kafka's watermarks,
//                  capped by MAX_OFFSETS_PER_TRIGGER; write offsets/N atomically (write-ahead)
//   2. read      — exactly those ranges, partition by partition; decode into Arrow columns;
//                  records that do not fit the schema become dead-letter records
//   3. write     — per sink and dt: FILES_PER_PARTITION files of at most MAX_RECORDS_PER_FILE
//                  rows, encoded in parallel, each written under a hidden name and fsynced
//   4. publish   — rename every file to its final deterministic name, fsync the directories,
//                  remove files a previous attempt of N wrote that this attempt did not
//   5. commit    — write commits/N atomically with the files and row counts
// On start: hidden temp files are removed, and a batch with offsets but no commit is re-run
// with its recorded ranges and file layout, which gives the same rows in the same files.
// Steps 3 and 4 may run again any number of times; a crash anywhere leaves every event in each
// output exactly once after the next successful run.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "common/file_system.h"
#include "common/status.h"
#include "config/stream_options.h"
#include "engine/checkpoint.h"
#include "engine/job_status.h"
#include "kafka/source.h"

namespace kpipe {

class StreamJob {
 public:
  StreamJob(StreamOptions options, std::shared_ptr<FileSystem> fs, std::shared_ptr<JobStatus> status);
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
// after_temp_files, mid_rename, after_rename, after_commit.
void crash_point(const char* step, int64_t batch_id);

}  // namespace kpipe
