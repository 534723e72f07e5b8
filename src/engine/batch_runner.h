// One batch of the protocol, step by step (the trigger loop around it is StreamJob):
//
//   (1) plan          — which offsets: plan_batch (batch_planner.h), by the caller
//   (2) read, decode  — exactly those ranges, one RecordDecoder per partition, so the rows are in
//                       range order whatever order the fetches arrive in
//   (3) plan files    — bad-record policy, rows split by dt, files cut per sink (plan_outputs)
//   (4) write-ahead   — offsets/N created if absent, with ranges, sinks, layout, decode settings and
//                       the planned files: from here on a restart replays exactly this
//   (5) write hidden  — every file encoded and written under its hidden name, fsynced (worker pool)
//   (6) publish       — renamed to the final names, recorded files this attempt does not produce
//                       removed, directories fsynced
//   (6b) day markers  — DT_COMPLETE_AFTER: dt=D/_SUCCESS created if absent in the Parquet and CSV
//                       roots for each day the write-ahead entry completes (decided at (4))
//   (7) commit        — the committer chain; commits/N last
//   (8) observe       — status, progress line, console
// Steps (5) to (7) are idempotent: a replay does them again with the same names and bytes, and
// a committer that has the batch already is skipped. Two writers on one checkpoint meet at (4) or
// (7), where exactly one creates the entry; the other stops with kAlreadyExists.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "common/worker_pool.h"
#include "config/stream_options.h"
#include "decode/record_decoder.h"
#include "engine/batch_observer.h"
#include "engine/checkpoint.h"
#include "engine/committer.h"
#include "engine/file_sink.h"
#include "kafka/record_source.h"
#include "kafka/writer_fence.h"

namespace kpipe {

// Called at each named point of the protocol ("after_offsets", "after_read", "after_temp_files",
// "mid_rename", "after_rename", "after_markers", "after_delta_commit", "after_commit"); an error return stops the batch
// right there, as a crash would. The default (crash_point) kills the process when KPIPE_TEST_CRASH_AT names the step.
using CrashHook = std::function<Status(const char* step, int64_t batch_id)>;

// The seams a batch goes through; all owned by the caller and alive while the runner is.
struct BatchSeams {
  FileSystem* fs = nullptr;
  RecordSource* source = nullptr;
  Checkpoint* checkpoint = nullptr;
  WorkerPool* pool = nullptr;
  const std::vector<std::unique_ptr<Committer>>* committers = nullptr;
  const std::vector<std::unique_ptr<BatchObserver>>* observers = nullptr;
  CrashHook crash;
  WriterFence* fence = nullptr;  // checked before the write-ahead entry and the commit; null: none
};

// The sinks and decode settings that new batches get from the settings in force.
std::vector<SinkSpec> sink_specs(const StreamOptions& opt);
DecodeSpec decode_spec(const StreamOptions& opt);

// The decoders for one DecodeSpec, one per partition, kept across batches for their buffers.
struct Decoding {
  DecodeSpec spec;
  Schema schema;
  int partition_column = -1;  // or kPartitionFromKafkaTimestamp
  DecodeLimits limits;
  std::map<int32_t, std::unique_ptr<RecordDecoder>> decoders;
};
// Fails with kInvalidArgument naming the setting when the spec cannot decode (a bad SCHEMA).
Result<std::unique_ptr<Decoding>> make_decoding(const DecodeSpec& spec);

class BatchRunner {
 public:
  BatchRunner(const StreamOptions& options, std::unique_ptr<Decoding> decoding, BatchSeams seams);

  // Steps (2)-(8) of a new batch over `ranges`, which step (1) planned; `skipped` (what
  // FAIL_ON_DATA_LOSS=false skipped) goes into the write-ahead entry, `data_loss` to the observers.
  // `planned_caught_up`: for every partition of the plan, whether its range ends at the high watermark
  // (DT_COMPLETE_AFTER's idle rule). `epochs`: GROUP_ID's owner epochs the plan was made under,
  // recorded in the entry (OffsetsEntry::epochs). MAX_BATCH_BYTES may end the read early: then
  // `ranges` holds, on return, the shorter ranges the batch read and recorded (those partitions are
  // not caught up), so the caller sees that more is available by its smaller total.
  Status run_new(int64_t batch_id, std::vector<PartitionRange>& ranges, const std::vector<std::string>& data_loss,
                 const std::vector<PartitionRange>& skipped, const std::map<int32_t, bool>& planned_caught_up,
                 const std::atomic<bool>& stop, const std::map<int32_t, int64_t>& epochs = {});
  // DT_COMPLETE_AFTER: true when a batch without rows would complete a day now, i.e. the trigger
  // loop must run one to write its markers although Kafka has nothing new.
  bool days_due(const std::map<int32_t, bool>& caught_up) const;
  // Steps (2)-(8) again for a batch whose write-ahead entry has no commit, as the entry says.
  Status replay(const OffsetsEntry& entry, const std::atomic<bool>& stop);

 private:
  struct Batch;  // one attempt's state, from decode to observe
  // `max_bytes` > 0 (a new batch under MAX_BATCH_BYTES) may shorten `ranges` (RecordSource::read_upto).
  Result<BatchRows> read_and_decode(std::vector<PartitionRange>& ranges, int64_t max_bytes, Decoding& decoding,
                                    const std::atomic<bool>& stop,
                                    std::vector<std::shared_ptr<arrow::RecordBatch>>& parts,
                                    std::map<int32_t, int64_t>& max_event_us);
  DayPlan plan_days_of(const Batch& b, const std::map<int32_t, bool>& caught_up) const;
  Status write_markers(const Batch& b);
  // Still the checkpoint's one writer? (a fence on an object store; nothing to do on a local disk)
  Status check_fence(const OffsetsEntry& e) const;
  Status check_bad_records(const BatchRows& rows, const DecodeSpec& spec, int64_t batch_id) const;
  Status write_hidden(Batch& b);
  Status publish(Batch& b, const std::vector<CommittedFile>& recorded);
  Status commit(Batch& b);
  void observe(const Batch& b);
  Status finish(Batch& b, const std::vector<CommittedFile>& recorded);
  Status crash(const char* step, int64_t batch_id) const;

  const StreamOptions& opt_;
  std::unique_ptr<Decoding> decoding_;  // for the settings in force
  BatchSeams seams_;
  std::optional<std::chrono::steady_clock::time_point> previous_start_;
};

}  // namespace kpipe
