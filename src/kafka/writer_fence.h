// One writer per checkpoint on stores where kpipe cannot take a file lock (object stores), kept
// with Kafka's transactional-producer fencing.
//
// acquire_kafka_fence() creates a transactional producer with the checkpoint's transactional.id
// and calls init_transactions: the coordinator bumps the producer epoch of that id, so every older
// holder is fenced from then on. An older holder does not hear about it until its next
// transaction step, so WriterFence::check() runs one small transaction that must reach the
// coordinator (it commits the consumer group's offsets): call it before each step that must not
// be done by two writers (a log commit), and stop when it says kLocked.
//
// A fenced or otherwise fatally failed fence stays failed: the fix is a new process, never a new
// producer made here, because acquiring again would fence the newer holder in turn.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kpipe {

struct WriterFenceOptions {
  std::string bootstrap_servers;
  std::vector<std::pair<std::string, std::string>>
      kafka_props;               // user's extra librdkafka properties (security etc.), applied after ours
  std::string transactional_id;  // one per checkpoint, e.g. "kpipe-checkpoint-<hash>"
  std::string group_id;          // consumer group whose offsets each check commits
  std::string holder;            // one line naming this instance (host, pid), for messages
  int timeout_ms = 30000;        // deadline of each blocking call
};

class WriterFence {
 public:
  virtual ~WriterFence() = default;
  // Proves this instance still holds the fence: one transaction that commits `offsets`
  // (partition -> next offset to read, of `topic`) for group_id (send_offsets_to_transaction with
  // rd_kafka_consumer_group_metadata_new(group_id), then commit_transaction). Must really reach the
  // transaction coordinator on every call (an empty transaction may complete locally without
  // asking the broker, so offsets must be non-empty; return kInvalidArgument fatal if empty).
  // Fenced (a newer holder): Status::fatal(..., StatusCode::kLocked) whose message says another
  // instance took over transactional.id X and this one must stop. Broker unreachable / timeout /
  // retriable txn error: abort the transaction if needed and return Status::retriable(..., kUnavailable).
  // Calls are serialized (a mutex); each blocking librdkafka call is bounded by timeout_ms.
  virtual Status check(const std::string& topic, const std::vector<std::pair<int32_t, int64_t>>& offsets) = 0;
};

// Creates a transactional producer with `transactional_id` and calls init_transactions (bounded
// by timeout_ms): from then on every older holder of the same id is fenced. Broker unreachable →
// retriable kUnavailable naming bootstrap_servers; a bad property → fatal kInvalidArgument.
Result<std::unique_ptr<WriterFence>> acquire_kafka_fence(const WriterFenceOptions& options);

// A fence for tests and for stores with real locks: check() always succeeds.
std::unique_ptr<WriterFence> no_fence();

}  // namespace kpipe
