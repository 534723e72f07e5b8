// A librdkafka producer for one topic, with delivery accounting.
//
// Lifecycle:
//   1. create()   — configures an idempotent producer (no duplicates or reordering on retry);
//   2. send()     — enqueues; payload and key are copied (RD_KAFKA_MSG_F_COPY), so the caller may
//                   reuse its buffer at once; "queue full" comes back as a retriable Status;
//   3. poll()     — serves delivery reports and error callbacks (any thread, e.g. a poller);
//   4. flush()    — waits, with a deadline, until every sent message is delivered or failed;
//   5. purge()    — on a hurried shutdown, fails what is still queued so counters add up;
//   6. destructor — purges what is left and destroys the client; never blocks for long.
// sent() == delivered() + failed() + in_flight() at all times.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "kafka/kafka_config.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_topic_s rd_kafka_topic_t;
typedef struct rd_kafka_message_s rd_kafka_message_t;

namespace kpipe {

struct ProducerConfig {
  std::string bootstrap_servers;                                 // KAFKA_BOOTSTRAP_SERVERS
  std::string topic;                                             // KAFKA_TOPIC
  std::vector<std::pair<std::string, std::string>> kafka_props;  // --kafka-prop, applied last
  std::string client_id = "kpipe-producer";
  // message.timeout.ms: a message not delivered by then fails (librdkafka retries until then).
  std::chrono::milliseconds message_timeout{30000};
  // linger.ms: how long a partial batch waits for more messages. 5 ms lets --rate 0 fill large
  // batches (throughput) while a low rate still sees its events within a few milliseconds.
  std::chrono::milliseconds linger{5};
};

class Producer {
 public:
  static Result<std::unique_ptr<Producer>> create(const ProducerConfig& config);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues one message to a partition chosen from the key (murmur2, as Java clients do) or,
  // without a key, spread by librdkafka. Errors: retriable "queue full" (poll, then send again);
  // fatal for a message the client can never send (too large), which also counts as failed.
  Status send(std::string_view value, std::optional<std::string_view> key);

  void poll(std::chrono::milliseconds timeout);

  // Ok when nothing is left in flight; retriable when the deadline passed first.
  Status flush(std::chrono::milliseconds timeout);

  void purge();

  int64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  int64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  int64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  int64_t in_flight() const { return sent() - delivered() - failed(); }

  // The first delivery failure ("Local: Message timed out"), "" if none.
  std::string first_failure() const;
  // The last error the client reported (e.g. "cannot reach 127.0.0.1:1 (Connection refused); retrying").
  std::string last_error() const { return errors_.last_error(); }
  // Set when the idempotent producer hit a fatal error; nothing more will be delivered then.
  Status fatal_error() const;

  // Asks the cluster whether the topic exists (blocks at most `timeout`): ok when it does, fatal
  // "topic 'x' does not exist at b:9092" when the broker says it does not, retriable when the
  // broker does not answer. For explaining a run where nothing was delivered.
  Status check_topic(std::chrono::milliseconds timeout);

  const ProducerConfig& config() const { return config_; }

 private:
  explicit Producer(ProducerConfig config);
  static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* message);

  ProducerConfig config_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  KafkaErrorLog errors_;
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<bool> fatal_{false};
  mutable std::mutex mu_;
  std::string first_failure_;
  std::string fatal_message_;
};

}  // namespace kpipe
