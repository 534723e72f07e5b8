// GROUP_ID's membership in a Kafka consumer group: which partitions this instance owns.
//
// A librdkafka consumer subscribes with group.id = GROUP_ID and the cooperative-sticky assignor,
// and never reads a record: the partitions the coordinator assigns it are paused at once. Reading
// stays KafkaSource's (exact ranges, manual assignment): this client only says which partitions
// those ranges may cover, and commits the table's offsets to the group, so that
// kafka-consumer-groups.sh, Burrow or a Kafka UI show kpipe's lag. The Delta log is the truth
// (engine/group_claims.h); the group's offsets are information.
//
// A thread polls the client, which serves the rebalance callback. A revocation waits for the
// batch in flight (begin_batch .. end_batch) to end, at most revoke_wait, so that a partition
// normally changes hands between batches; a lost assignment (this instance was a zombie: paused
// past session.timeout.ms) does not wait, and the batch's commit fails the owner-epoch check.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace kpipe {

class Wakeup;

struct GroupOptions {
  std::string bootstrap_servers;
  std::string topic;
  std::string group_id;
  std::vector<std::pair<std::string, std::string>> kafka_props;  // --kafka-prop, applied after ours
  std::string client_id = "kpipe-stream-group";
  // How long a revocation waits for the batch in flight (max.poll.interval.ms is 300 s).
  std::chrono::milliseconds revoke_wait{120000};
  // Notified after each assignment and revocation, so that the job's wait between batches ends
  // at once (StreamSeams::wakeup). Not owned; null: none.
  Wakeup* wakeup = nullptr;
};

struct GroupView {
  // Partition → its assignment number: raised each time the coordinator assigns this instance the
  // partition, so that an instance fenced on a partition claims it again only after a new
  // assignment, never from the stale one.
  std::map<int32_t, int64_t> owned;
  std::string member_id;  // "" until joined
  int64_t rebalances = 0;
  int64_t last_rebalance_ms = 0;  // wall clock; 0 = none yet
};

// The seam: KafkaGroupMember, and fakes in engine tests.
class GroupMembership {
 public:
  virtual ~GroupMembership() = default;
  // The partitions owned now, for a batch that starts; a revocation waits until end_batch(). A
  // revocation under way is let finish first (at most `wait`).
  virtual GroupView begin_batch(std::chrono::milliseconds wait) = 0;
  virtual void end_batch() = 0;
  virtual GroupView view() const = 0;
  // The next offset to read of each partition (the table's last + 1), for the group's committed
  // offsets. Asynchronous, best effort; the last ones are committed again when the member leaves.
  virtual void commit_offsets(const std::map<int32_t, int64_t>& next) = 0;
};

// Joins the group (subscribes; the assignment arrives asynchronously).
Result<std::unique_ptr<GroupMembership>> join_kafka_group(const GroupOptions& options);

}  // namespace kpipe
