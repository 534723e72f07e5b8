// The Kafka side of `kpipe stream`: topic metadata, watermarks, and reading exact offset ranges.
//
// The source never subscribes to a consumer group: like Spark's Kafka source, the checkpoint
// decides which offsets a batch reads, and the source reads exactly [start, end) of each
// partition. Partitions stay assigned between batches so a batch that starts where the last one
// ended continues from the prefetched queue instead of fetching again.
//
// Ownership: the RawRecord passed to the read callback points into the prefetch buffer, whose
// memory may be reused when the callback returns; copy what must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "kafka/fetch_waker.h"
#include "kafka/prefetch_buffer.h"
#include "kafka/record_source.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_queue_s rd_kafka_queue_t;
typedef struct rd_kafka_topic_partition_list_s rd_kafka_topic_partition_list_t;

namespace kpipe {

struct SourceOptions {
  std::string bootstrap_servers;                                 // KAFKA_BOOTSTRAP_SERVERS
  std::string topic;                                             // KAFKA_TOPIC
  std::vector<std::pair<std::string, std::string>> kafka_props;  // --kafka-prop, applied last
  std::string client_id = "kpipe-stream";
  std::chrono::milliseconds request_timeout{10000};  // metadata and watermark queries
  std::chrono::milliseconds stall_timeout{60000};    // a read making no progress this long fails (retriable)
  // Bytes fetched ahead (payloads plus 32 bytes a message), shared by the assigned partitions
  // (at least 64 KiB each), so reading goes on while the engine writes. 16 MiB holds about
  // 110,000 events of the seed's size; the stream job uses MAX_BATCH_RECORDS x 128 bytes,
  // between 6 and 16 MiB.
  size_t prefetch_bytes = 16u << 20;
  // fetch.wait.max.ms: how long the broker may hold a fetch until fetch.min.bytes (one
  // partition's fetch) are there. The stream job ties it to the trigger (fetch_wait_for in
  // kafka/consumer_settings.h says why).
  std::chrono::milliseconds fetch_wait{100};
  // Copy each message's key / headers for the records (KAFKA_COLUMNS key / headers). Off, the
  // records have neither: reading headers costs librdkafka a parse of each message's headers,
  // and both cost prefetch memory.
  bool with_key = false;
  bool with_headers = false;
};

class KafkaSource final : public RecordSource {
 public:
  static Result<std::unique_ptr<KafkaSource>> open(const SourceOptions& options);
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  // Partition ids of the topic, sorted. A missing topic is a retriable error that says so.
  Result<std::vector<int32_t>> partitions() override;
  Result<Watermarks> watermarks(int32_t partition) override;
  // The watermarks of all `partitions` in one request per leader and watermark (two round trips
  // however many partitions; one query per partition made planning cost grow with them).
  Result<std::map<int32_t, Watermarks>> watermarks(const std::vector<int32_t>& partitions) override;

  // From librdkafka's copy of the high watermark that each fetch response carries
  // (rd_kafka_get_watermark_offsets: no request), for the assigned partitions the prefetch
  // thread has not paused: those are fetched continuously, so the copy is at most about
  // fetch.wait.max.ms old while the broker answers. A paused or unassigned partition is left out.
  std::map<int32_t, int64_t> cached_high_watermarks(const std::vector<int32_t>& partitions) override;
  // One ListOffsets request per leader (the end offsets only), within `timeout`; through the
  // consumer's connection while idle() has the metadata client closed.
  Result<std::map<int32_t, int64_t>> high_watermarks(const std::vector<int32_t>& partitions,
                                                     std::chrono::milliseconds timeout) override;
  // The first record of the last read that started at `offset`, or the first record the prefetch
  // buffer holds when the source is positioned at `offset` (between batches: the next batch's first).
  std::optional<int64_t> held_timestamp_ms(int32_t partition, int64_t offset) override;
  // What the prefetch buffer holds from each assigned partition's position on.
  std::vector<PartitionRange> held_ranges() override;

  // Reads every message of every range and calls `on_record` for each: offsets ascending within
  // a partition, partitions interleaved. A prefetch thread copies messages out of librdkafka's
  // partition queues as they arrive (see PrefetchBuffer), between batches too, so librdkafka
  // keeps fetching every partition; a caller that needs the rows in partition order keeps them
  // apart by RawRecord::partition. Fails with a retriable error when a partition delivers nothing for
  // stall_timeout, and with a fatal error when the broker no longer has an offset (deleted by
  // retention; the caller decides with FAIL_ON_DATA_LOSS). `stop` abandons the read (kReplay)
  // so that shutdown never waits on a dead broker.
  Status read(const std::vector<PartitionRange>& ranges, const std::function<void(const RawRecord&)>& on_record,
              const std::atomic<bool>& stop) override;
  // The same, ended once the values delivered reach `max_bytes` (RecordSource::read_upto): what
  // lies past the new ends stays in the prefetch buffer for the next read.
  Status read_upto(std::vector<PartitionRange>& ranges, int64_t max_bytes,
                   const std::function<void(const RawRecord&)>& on_record, const std::atomic<bool>& stop) override;

  // Forgets the positions of the other partitions, so that the next read assigns only those it
  // reads and these (librdkafka stops fetching the rest).
  void keep_only(const std::vector<int32_t>& partitions) override;

  // Before a wait of kLongIdle or more, two things until the next read:
  // - the metadata client is closed, made again by the next partitions() or watermark query
  //   unless every assigned partition is paused by then (the consumer's connection answers);
  //   with librdkafka 2.0.2, whose main thread spins through the last millisecond before each
  //   of its timers (every client has a 1-second timer), that was about 0.7 ms of CPU a second
  //   per client, 5% of kpipe's CPU at 10,000 events/s with TRIGGER_SECONDS=30; with 2.16 it
  //   still spares the client's threads and connection;
  // - the prefetch thread rests: each partition is fetched until it holds one record past what
  //   was read (for the lag's oldest record), then paused; the next read fetches the rest. At
  //   1,000 events/s this took a sixth off the CPU per event (bench/results/PROFILE.md).
  // Shorter waits keep both: making the client again costs a connection and a metadata request,
  // and the prefetch is what lets a short trigger's batch start with its records in memory.
  void idle(std::chrono::milliseconds wait) override;
  static constexpr std::chrono::milliseconds kLongIdle{10'000};
  // Times a metadata client was made (open() makes the first).
  int metadata_clients_made() const { return metadata_clients_made_; }
  // Whether the prefetch thread has paused every assigned partition (false before the first read).
  bool all_paused() const;

  // The last error librdkafka reported through its error callback ("" if none), for messages
  // such as "cannot reach 127.0.0.1:9092".
  std::string last_client_error() const override;

  const SourceOptions& options() const { return options_; }

  // Times the prefetch thread paused a partition because its share of the buffer was full.
  uint64_t pauses() const { return pauses_.load(std::memory_order_relaxed); }
  // Of those, the pauses of a partition the read in progress waited for, before its range was
  // fetched to the end (only when the whole buffer is at its budget).
  uint64_t mid_range_pauses() const { return mid_range_pauses_.load(std::memory_order_relaxed); }
  // Partitions fetched at once while they have a backlog (see prefetch_loop); 0 before the first read.
  size_t fetch_slots() const { return fetch_slots_; }
  // Messages librdkafka holds in the assigned partitions' queues, not yet taken by the prefetch
  // thread. Call from the thread that calls read().
  size_t client_queued_messages() const;

  struct ErrorState;  // filled by librdkafka's error callback

 private:
  explicit KafkaSource(SourceOptions options);
  void close_consumer();
  // A consumer handle with `settings`, then the user's --kafka-prop, reporting to errors_.
  Result<rd_kafka_t*> new_client(const std::vector<std::pair<std::string, std::string>>& settings);
  // meta_, made first if idle() closed it.
  Result<rd_kafka_t*> metadata_client();
  // What partitions() and watermarks() ask: the consumer while resting with nothing fetched,
  // else metadata_client().
  Result<rd_kafka_t*> planning_client();
  Status assign(const std::vector<PartitionRange>& ranges);
  // Sets fetch_slots_ and pauses the partitions of `ranges` past that many (held_back_).
  void hold_back(const std::vector<PartitionRange>& ranges);
  // Pauses or resumes `partitions` in one call; returns those it did.
  std::set<int32_t> set_paused_all(const std::set<int32_t>& partitions, bool pause);
  struct Cursor;
  // Hands `cursor` what the prefetch buffer holds of its range, without waiting.
  // The byte budget of one read_upto: `used` counts the values delivered; `full` once it reached `max`.
  struct ReadBudget {
    int64_t max = 0;  // 0: no limit
    int64_t used = 0;
    bool full = false;
  };
  Status consume_available(Cursor& cursor, const std::function<void(const RawRecord&)>& on_record, bool& got_any,
                           ReadBudget& budget);
  // The prefetch thread: moves messages from the partition queues into buffer_ while the
  // partitions' budgets allow. Runs between assign() calls; queues_ does not change meanwhile.
  void prefetch_loop();
  void start_prefetch();
  // ListOffsets of every partition at logical offset `which` (beginning or end), in place.
  Status list_offsets(rd_kafka_t* client, rd_kafka_topic_partition_list_t* list, int64_t which,
                      std::chrono::milliseconds timeout);
  int queued_min_messages() const;
  // Sets the partitions the read in progress waits for, with where each of its ranges ends
  // (demanded_), and wakes the prefetch thread.
  void set_demanded(std::map<int32_t, int64_t> range_ends);
  void stop_prefetch();

  SourceOptions options_;
  rd_kafka_t* rk_ = nullptr;      // reads the partitions; made by assign()
  size_t client_partitions_ = 0;  // partitions rk_ was made for
  rd_kafka_t* meta_ = nullptr;    // metadata and watermarks, on a connection of its own (see open())
  int metadata_clients_made_ = 0;
  // Next offset each assigned partition will deliver; lets a batch that starts where the
  // previous one ended keep the prefetched data.
  std::map<int32_t, int64_t> position_;
  bool reassign_ = false;  // keep_only dropped a partition: the next assign() must not keep the old set
  std::map<int32_t, rd_kafka_queue_t*> queues_;
  // librdkafka writes a byte to wake_[1] when a partition queue goes from empty to not empty
  // (rd_kafka_queue_io_event_enable), and so does the reader when a partition the prefetch
  // thread paused may be resumed (PrefetchBuffer::wants_more): the prefetch thread sleeps on wake_[0].
  int wake_[2] = {-1, -1};
  std::unique_ptr<PrefetchBuffer> buffer_;
  std::thread prefetcher_;
  // Wakes the broker threads of the partitions the prefetch thread resumes; lives while it runs.
  std::unique_ptr<FetchWaker> waker_;
  std::atomic<bool> prefetch_quit_{false};
  std::atomic<uint64_t> pauses_{0};
  std::atomic<uint64_t> mid_range_pauses_{0};
  // How many partitions with a backlog librdkafka may fetch at once, and the partitions assign()
  // paused before fetching started because they were over that number (the prefetch thread
  // resumes them in turn).
  size_t fetch_slots_ = 0;
  std::set<int32_t> held_back_;
  // The partitions the current read() still waits for, and the end of each one's range: the
  // prefetch thread fetches them whatever the buffer holds, and does not pause one for its share
  // before it has fetched to the range's end; the others only while the whole buffer is under
  // prefetch_bytes.
  mutable std::mutex demand_mu_;
  std::map<int32_t, int64_t> demanded_;
  std::atomic<uint64_t> demand_version_{0};  // bumped by set_demanded
  // Set by idle() before a long wait, cleared by the next read's demand (see prefetch_loop).
  std::atomic<bool> resting_{false};
  std::shared_ptr<ErrorState> errors_;
  // The partitions the prefetch thread has paused, for cached_high_watermarks on the job thread.
  mutable std::mutex paused_mu_;
  std::set<int32_t> paused_;
  // Per partition: the start of the last range read and the timestamp of its first record.
  std::map<int32_t, std::pair<int64_t, int64_t>> first_read_;
};

}  // namespace kpipe
