// Messages fetched ahead of the batch that reads them, per partition, copied out of librdkafka.
//
// Why: librdkafka (2.0.x) stops fetching a partition whose queue holds queued.min.messages and
// picks it up again only when its broker thread next wakes, up to a second after the queue was
// drained; and it holds about half a KiB per queued message. KafkaSource's prefetch thread keeps
// librdkafka's queues empty by copying each message here (payload, key and headers when asked
// for, plus 32 bytes) and destroying it, so fetching goes on while the engine writes files, at a
// quarter of the memory.
//
// One producer thread appends; one consumer thread consumes; clear() only while the producer is
// stopped. Each partition has its own byte budget, so data of one partition that a later batch
// will read can never keep out the data of another that this batch waits for.
//
// Lifetimes: an Item's payload, key and headers point into the buffer and stay valid until the
// consume() call that passed them returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace kpipe {

class PrefetchBuffer {
 public:
  enum class Kind : uint8_t {
    kRecord,      // a message: offset, timestamp_ms, payload
    kEnd,         // end of partition at `offset` (enable.partition.eof)
    kOffsetLost,  // the broker no longer has the offset; payload = librdkafka's text
    kError,       // another consume error; payload = librdkafka's text
  };
  struct Item {
    Item() = default;
    Item(Kind k, int64_t o, int64_t ts, std::string_view p) : kind(k), offset(o), timestamp_ms(ts), payload(p) {}
    Kind kind = Kind::kRecord;
    int64_t offset = 0;
    int64_t timestamp_ms = -1;
    std::string_view payload;
    int8_t timestamp_type = -1;  // KafkaTimestampType
    bool has_key = false;        // false: a null key (or keys not copied)
    std::string_view key;
    std::string_view headers;  // PackedHeaders form (common/record.h); empty: none
  };

  PrefetchBuffer() = default;
  PrefetchBuffer(const PrefetchBuffer&) = delete;
  PrefetchBuffer& operator=(const PrefetchBuffer&) = delete;

  // Producer: appends copies of `items` to `partition`, in order, under one lock, and wakes a
  // consumer waiting in wait_for_data(). May overshoot the budget by one call's items.
  void append(int32_t partition, const std::vector<Item>& items);
  // At or over the budget: the producer stops fetching the partition (KafkaSource pauses it).
  bool full(int32_t partition) const;
  // Under half the budget, or nothing unread: a partition the producer stopped at full may be
  // fetched again. The half in between keeps the consumer busy while the fetch restarts.
  bool wants_more(int32_t partition) const;

  // Consumer: calls `take` with the partition's items in order for as long as it returns true;
  // an item it returns false for stays first in line. Returns true when wants_more() went
  // from false to true (a producer waiting for it may want waking).
  bool consume(int32_t partition, const std::function<bool(const Item&)>& take);
  // Consumer: {offset, timestamp_ms} of the first unread record of `partition`, past any
  // end-of-partition marks; nullopt when nothing is buffered or an error comes first. Reads only.
  std::optional<std::pair<int64_t, int64_t>> first_record(int32_t partition) const;
  // Waits until something was appended since `seen` (a value of appended()) or `timeout`.
  void wait_for_data(uint64_t seen, std::chrono::milliseconds timeout);
  uint64_t appended() const;

  // Any thread: per partition holding unread items, the offset just past the last record (or the
  // end-of-partition mark) it holds. What a batch that starts at the partition's read position
  // can take without fetching.
  std::map<int32_t, int64_t> held_to() const;

  void clear();
  // A partition whose buffered items take this many bytes is full until the consumer frees some.
  // New chunks are a quarter of it (16 KiB to 1 MiB), so a partition holds little more than its
  // budget however small it is. Call while no partition holds data (after clear()).
  void set_budget(size_t per_partition_bytes);
  size_t bytes() const;        // buffered, all partitions
  size_t spare_bytes() const;  // chunks read to the end, kept for the next appends

 private:
  // 32 bytes: the data at `pos` is the payload (len bytes), the key (key_len bytes), and with
  // kHasHeaders the packed headers' length (uint32) and the packed headers.
  struct Entry {
    int64_t offset;
    int64_t timestamp_ms;
    uint32_t pos;  // into the chunk's data
    uint32_t len;
    uint32_t key_len;
    Kind kind;
    int8_t timestamp_type;
    uint8_t flags;  // kHasKey | kHasHeaders
  };
  static_assert(sizeof(Entry) == 32);
  static constexpr uint8_t kHasKey = 1;
  static constexpr uint8_t kHasHeaders = 2;
  static size_t data_size(const Item& it);
  // Fixed capacity, allocated once: the consumer reads entries [read, count) without the lock
  // while the producer appends behind them, so nothing may move.
  struct Chunk {
    std::unique_ptr<char[]> data;
    size_t data_capacity = 0;
    size_t data_used = 0;
    std::unique_ptr<Entry[]> entries;
    size_t entry_capacity = 0;
    size_t count = 0;  // published entries; written and read under mu_
    size_t bytes() const { return data_capacity + entry_capacity * sizeof(Entry); }
  };
  struct Partition {
    std::deque<Chunk> chunks;  // push_back keeps references to the others valid
    size_t read = 0;           // next entry of chunks.front()
    size_t bytes = 0;
  };

  Chunk& tail_for(Partition& part, size_t data_bytes);
  void retire_locked(Chunk&& chunk);
  bool wants_more_locked(const Partition& part) const;

  size_t per_partition_bytes_ = 16u << 20;
  size_t chunk_data_bytes_ = 1u << 20;  // payload area of a new chunk: set_budget() / 4, bounded
  mutable std::mutex mu_;
  std::condition_variable data_cv_;
  std::map<int32_t, Partition> parts_;
  size_t bytes_ = 0;
  // Chunks read to the end, kept for the next appends (standard size only, at most a budget's
  // worth in all): between two triggers the buffer empties, and memory freed to the allocator
  // went back to the kernel and was faulted in again by the next batch, about 800 page faults
  // a batch at 1,000 events/s and TRIGGER_SECONDS=30. Never more than the buffer once held.
  std::vector<Chunk> spare_;
  size_t spare_bytes_ = 0;
  uint64_t appended_ = 0;
};

}  // namespace kpipe
