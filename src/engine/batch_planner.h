// Step 1 of the batch protocol: which offsets batch N reads. Pure function of what Kafka
// reports and what the checkpoint recorded, so it is tested without a broker.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "kafka/source.h"

namespace kpipe {

enum class StartingOffsets { kEarliest, kLatest };

struct PlanInput {
  std::string topic;
  std::map<int32_t, Watermarks> partitions;             // every partition Kafka reports now
  std::optional<std::vector<PartitionRange>> previous;  // ranges of the last planned batch; none for a new checkpoint
  StartingOffsets starting = StartingOffsets::kLatest;  // only for a new checkpoint (STARTING_OFFSETS)
  int64_t max_offsets_per_trigger = 0;                  // 0 = no cap (MAX_OFFSETS_PER_TRIGGER)
  int64_t max_batch_records = 0;                        // 0 = no cap (MAX_BATCH_RECORDS: memory bound)
  bool fail_on_data_loss = true;                        // FAIL_ON_DATA_LOSS
  std::map<int32_t, int64_t> stop_at;                   // --once: never read past these offsets
  std::vector<PartitionRange> held;                     // what the source holds in memory (held_ranges)
  int64_t batch_id = 0;                                 // the batch planned: turns MAX_BATCH_RECORDS' rotation
};

struct Plan {
  std::vector<PartitionRange> ranges;   // one per partition, sorted; start == end when nothing new
  std::vector<std::string> data_loss;   // offsets skipped because Kafka no longer had them
  std::vector<PartitionRange> skipped;  // the same, as ranges [start, end) for the write-ahead entry
  bool more_available = false;          // MAX_BATCH_RECORDS cut the batch: run the next one at once
  int64_t total() const {
    int64_t n = 0;
    for (const auto& r : ranges) n += r.end - r.start;
    return n;
  }
};

// MAX_OFFSETS_PER_TRIGGER is spread over the partitions in proportion to their lag, as Spark's
// maxOffsetsPerTrigger. MAX_BATCH_RECORDS, a memory bound, goes to a few partitions at a time
// instead: first what the source already holds in memory from a range's start (up to three
// quarters of it), then an equal slice each for up to 8 partitions taken in turn from a place
// that moves on with every batch id, then whatever is left. A fetch brings a whole producer batch
// of a partition (up to 1 MB), so a batch that took a little of each of 96 partitions left 96
// producer batches in memory.
//
// A partition Kafka has but the previous batch did not (added since) starts at its earliest
// offset, as in Spark. Offsets deleted before they were read are an error naming them, or,
// with fail_on_data_loss = false, skipped and listed in Plan::data_loss.
Result<Plan> plan_batch(const PlanInput& in);

}  // namespace kpipe
