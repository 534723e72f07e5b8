// The seam between the engine and Kafka: what a batch needs from a source of records.
//
// KafkaSource (librdkafka, kafka/source.h) is the implementation; engine tests use a fake that
// holds its records in memory. The source never decides what a batch reads: the checkpoint does,
// and the source reads exactly [start, end) of each partition, as Spark's Kafka source does.
//
// Ownership: the RawRecord passed to the read callback points into the source's buffers, whose
// memory may be reused when the callback returns; copy what must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace kpipe {

struct PartitionRange {
  int32_t partition = 0;
  int64_t start = 0;  // first offset to read
  int64_t end = 0;    // one past the last offset to read
  bool operator==(const PartitionRange&) const = default;
};

struct Watermarks {
  int64_t low = 0;   // first offset still stored by the broker
  int64_t high = 0;  // offset the next produced message will get
};

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // Partition ids of the topic, sorted. A missing topic is a retriable error that says so.
  virtual Result<std::vector<int32_t>> partitions() = 0;
  virtual Result<Watermarks> watermarks(int32_t partition) = 0;
  // The watermarks of several partitions; a source that can ask for all at once overrides this.
  virtual Result<std::map<int32_t, Watermarks>> watermarks(const std::vector<int32_t>& partitions) {
    std::map<int32_t, Watermarks> marks;
    for (int32_t p : partitions) {
      KPIPE_ASSIGN_OR_RETURN(marks[p], watermarks(p));
    }
    return marks;
  }
  // For the consumer lag (engine/lag_tracker.h), between batches:
  // The high watermarks the source knows without a request, because it is fetching those
  // partitions and every fetch response carries them; the others are missing from the answer.
  virtual std::map<int32_t, int64_t> cached_high_watermarks(const std::vector<int32_t>& partitions) {
    (void)partitions;
    return {};
  }
  // The high watermarks of `partitions`, asked of the broker, answered within `timeout`.
  virtual Result<std::map<int32_t, int64_t>> high_watermarks(const std::vector<int32_t>& partitions,
                                                             std::chrono::milliseconds timeout) {
    (void)timeout;
    KPIPE_ASSIGN_OR_RETURN(auto marks, watermarks(partitions));
    std::map<int32_t, int64_t> high;
    for (const auto& [p, w] : marks) high[p] = w.high;
    return high;
  }
  // The Kafka timestamp (ms since the epoch) of the first record at or after `offset`, when the
  // source holds that record already (fetched ahead, or the first one of the last read); nullopt
  // when it would have to ask the broker. Never blocks.
  virtual std::optional<int64_t> held_timestamp_ms(int32_t partition, int64_t offset) {
    (void)partition;
    (void)offset;
    return std::nullopt;
  }
  // The records the source holds in memory now (fetched ahead), per partition: [the next offset
  // it will deliver, the offset past the last one held). The planner reads these first when
  // MAX_BATCH_RECORDS cuts a batch. Never blocks; empty for a source that does not read ahead.
  virtual std::vector<PartitionRange> held_ranges() { return {}; }
  // Calls `on_record` for every record of every range: offsets ascending within a partition,
  // partitions possibly interleaved. Retriable errors when the source stalls; a fatal one when
  // an offset no longer exists. `stop` abandons the read (kReplay).
  virtual Status read(const std::vector<PartitionRange>& ranges, const std::function<void(const RawRecord&)>& on_record,
                      const std::atomic<bool>& stop) = 0;
  // read(), ended early once the values delivered reach `max_bytes` (MAX_BATCH_BYTES; 0: no
  // limit): each range then ends where its partition's delivery stopped, so on success `ranges`
  // holds what was read, each still contiguous from its start (never longer than asked). At least
  // one record is delivered. A source that cannot end early reads everything (this default).
  virtual Status read_upto(std::vector<PartitionRange>& ranges, int64_t max_bytes,
                           const std::function<void(const RawRecord&)>& on_record, const std::atomic<bool>& stop) {
    (void)max_bytes;
    return read(ranges, on_record, stop);
  }
  // GROUP_ID: the partitions this instance owns now (sorted). A source that reads ahead stops
  // doing so for the others.
  virtual void keep_only(const std::vector<int32_t>& partitions) { (void)partitions; }
  // The job waits `wait` before it plans its next batch: a source may let go meanwhile of what it
  // needs only to plan. Whatever it lets go comes back on the next call that needs it.
  virtual void idle(std::chrono::milliseconds wait) { (void)wait; }
  // The last error the client reported on its own ("" if none), to explain a stall.
  virtual std::string last_client_error() const = 0;
};

}  // namespace kpipe
