#include "kafka/prefetch_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace kpipe {
namespace {

using Item = PrefetchBuffer::Item;
using Kind = PrefetchBuffer::Kind;

Item record(int64_t offset, std::string_view payload) { return Item{Kind::kRecord, offset, offset * 10, payload}; }

// Consumes everything of `partition` with offset < end; returns "offset:payload" per item.
std::vector<std::string> take_until(PrefetchBuffer& buf, int32_t partition, int64_t end) {
  std::vector<std::string> got;
  buf.consume(partition, [&](const Item& it) {
    if (it.offset >= end) return false;
    got.push_back(std::to_string(it.offset) + ":" + std::string(it.payload));
    return true;
  });
  return got;
}

TEST(PrefetchBuffer, KeepsOrderPerPartitionAndLeavesWhatTheConsumerRefuses) {
  PrefetchBuffer buf;
  std::string p0a = "a", p0b = "bb", p1 = "x";
  buf.append(0, {record(5, p0a), record(6, p0b)});
  buf.append(1, {record(0, p1)});
  buf.append(0, {Item{Kind::kEnd, 7, -1, {}}});
  EXPECT_EQ(take_until(buf, 0, 6), std::vector<std::string>{"5:a"});
  EXPECT_EQ(take_until(buf, 1, 100), std::vector<std::string>{"0:x"});
  // The refused item is still first in line, and copies outlive the appended strings.
  p0b = "changed";
  EXPECT_EQ(take_until(buf, 0, 100), (std::vector<std::string>{"6:bb", "7:"}));
  EXPECT_TRUE(take_until(buf, 0, 100).empty());
  EXPECT_TRUE(take_until(buf, 9, 100).empty());  // a partition never seen
}

// KAFKA_COLUMNS: the key (null or empty told apart), the timestamp type and the packed headers
// travel with the payload, copied, and an item without them costs nothing more.
TEST(PrefetchBuffer, KeepsKeysTimestampTypesAndHeaders) {
  PrefetchBuffer buf;
  std::string payload = "{}", key = std::string("k\0y", 3), headers(9, '\x01');
  Item with = record(1, payload);
  with.key = key;
  with.has_key = true;
  with.headers = headers;
  with.timestamp_type = 1;
  Item empty_key = record(2, payload);
  empty_key.has_key = true;
  Item plain = record(3, payload);
  buf.append(0, {with, empty_key, plain});
  key = "changed";
  headers = "changed";
  std::vector<Item> got;
  std::vector<std::string> keys, packed, payloads;
  buf.consume(0, [&](const Item& it) {
    got.push_back(it);
    keys.emplace_back(it.key);
    packed.emplace_back(it.headers);
    payloads.emplace_back(it.payload);
    return true;
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(payloads, (std::vector<std::string>{"{}", "{}", "{}"}));
  EXPECT_TRUE(got[0].has_key);
  EXPECT_EQ(keys[0], std::string("k\0y", 3));
  EXPECT_EQ(packed[0], std::string(9, '\x01'));
  EXPECT_EQ(got[0].timestamp_type, 1);
  EXPECT_TRUE(got[1].has_key);
  EXPECT_EQ(keys[1], "");
  EXPECT_FALSE(got[2].has_key);
  EXPECT_EQ(packed[2], "");
  EXPECT_EQ(got[2].timestamp_type, -1);
}

// Bytes one ordinary chunk takes (payload area plus entry table), measured rather than assumed.
size_t chunk_bytes() {
  PrefetchBuffer buf;
  buf.append(0, {record(0, "x")});
  return buf.bytes();
}

// More than half a chunk's 1 MiB payload area: each such payload takes an ordinary chunk of its own.
const std::string& chunk_filler() {
  static const std::string s(600u << 10, 'f');
  return s;
}

// Consumes the items of `partition` with offset < end; returns what consume() returned.
bool consume_until(PrefetchBuffer& buf, int32_t partition, int64_t end) {
  return buf.consume(partition, [&](const Item& it) { return it.offset < end; });
}

TEST(PrefetchBuffer, FullAtTheBudgetAndWantsMoreOnlyBelowHalfPerPartition) {
  const size_t chunk = chunk_bytes();
  PrefetchBuffer buf;
  buf.set_budget(4 * chunk);  // full at four chunks, half at two
  EXPECT_FALSE(buf.full(0));
  EXPECT_TRUE(buf.wants_more(0));  // nothing buffered yet
  for (int64_t o = 0; o < 3; ++o) buf.append(0, {record(o, chunk_filler())});
  ASSERT_EQ(buf.bytes(), 3 * chunk);
  EXPECT_FALSE(buf.full(0));  // between half and full: neither paused nor resumed
  EXPECT_FALSE(buf.wants_more(0));
  buf.append(0, {record(3, chunk_filler())});
  EXPECT_TRUE(buf.full(0));
  EXPECT_FALSE(buf.wants_more(0));
  EXPECT_FALSE(buf.full(1));  // another partition's data never fills this one
  EXPECT_TRUE(buf.wants_more(1));

  // Each call reads one item, which frees the chunk before it once it is fully read.
  EXPECT_FALSE(consume_until(buf, 0, 1));  // 4 → 3 chunks: room again, still at half or more
  EXPECT_EQ(buf.bytes(), 3 * chunk);
  EXPECT_FALSE(buf.full(0));
  EXPECT_FALSE(buf.wants_more(0));
  EXPECT_FALSE(consume_until(buf, 0, 2));  // 3 → 2: exactly half is not below it
  EXPECT_EQ(buf.bytes(), 2 * chunk);
  EXPECT_FALSE(buf.wants_more(0));
  EXPECT_TRUE(consume_until(buf, 0, 3));  // 2 → 1: crossed below half
  EXPECT_EQ(buf.bytes(), chunk);
  EXPECT_TRUE(buf.wants_more(0));
  EXPECT_FALSE(consume_until(buf, 0, 4));  // the last chunk stays for the producer: no crossing
  EXPECT_EQ(buf.bytes(), chunk);
  EXPECT_TRUE(buf.wants_more(0));
  EXPECT_FALSE(consume_until(buf, 0, 4));  // nothing left to read

  // Full again, then drained in one call: it crosses once, and says so once.
  for (int64_t o = 4; o < 7; ++o) buf.append(0, {record(o, chunk_filler())});
  ASSERT_EQ(buf.bytes(), 4 * chunk);
  EXPECT_TRUE(buf.full(0));
  EXPECT_TRUE(consume_until(buf, 0, 100));
  EXPECT_EQ(buf.bytes(), chunk);
  EXPECT_TRUE(buf.wants_more(0));

  buf.clear();
  EXPECT_EQ(buf.bytes(), 0u);
  EXPECT_FALSE(buf.full(0));
  EXPECT_TRUE(buf.wants_more(0));
}

TEST(PrefetchBuffer, PayloadLargerThanAChunkGetsOneOfItsOwn) {
  PrefetchBuffer buf;
  std::string big(3 << 20, 'z');
  buf.append(0, {record(0, big), record(1, "after")});
  const size_t before = buf.bytes();
  // The big chunk (the payload plus an entry table) and an ordinary one (1 MiB of payload) for "after".
  const size_t entry_table = chunk_bytes() - (1u << 20);
  EXPECT_EQ(before, (big.size() + entry_table) + chunk_bytes());
  buf.set_budget(2 * before);  // exactly half full
  EXPECT_FALSE(buf.full(0));
  EXPECT_FALSE(buf.wants_more(0));
  std::vector<size_t> sizes;
  const bool crossed = buf.consume(0, [&](const Item& it) {
    sizes.push_back(it.payload.size());
    return true;
  });
  EXPECT_EQ(sizes, (std::vector<size_t>{big.size(), 5}));
  EXPECT_TRUE(crossed);  // the big chunk went; the last chunk stays for the producer
  EXPECT_EQ(buf.bytes(), chunk_bytes());
  EXPECT_TRUE(buf.wants_more(0));
}

// KafkaSource gives a partition at least 2 MiB, less than two chunks. The chunk the producer
// appends to is never freed, so if it alone is half the budget or more, a partition paused at
// full never wants more however much the consumer reads, and its read stalls.
TEST(PrefetchBuffer, DrainedPartitionWantsMoreAtTheSmallestBudget) {
  PrefetchBuffer buf;
  buf.set_budget(2u << 20);
  int64_t next = 0;
  while (!buf.full(0)) buf.append(0, {record(next++, chunk_filler())});
  consume_until(buf, 0, next);  // every item
  EXPECT_TRUE(buf.wants_more(0)) << "every item read, " << buf.bytes() << " bytes still count against the "
                                 << (2u << 20) << "-byte budget";
}

TEST(PrefetchBuffer, ConsumerSeesEveryItemInOrderWhileTheProducerAppends) {
  PrefetchBuffer buf;
  buf.set_budget(64u << 20);
  constexpr int64_t kItems = 200'000;
  std::thread producer([&] {
    std::vector<Item> batch;
    std::vector<std::string> payloads;
    for (int64_t i = 0; i < kItems;) {
      batch.clear();
      payloads.clear();
      for (int k = 0; k < 500 && i < kItems; ++k, ++i) payloads.push_back(std::to_string(i));
      for (size_t k = 0; k < payloads.size(); ++k) {
        batch.push_back(record(i - static_cast<int64_t>(payloads.size()) + static_cast<int64_t>(k), payloads[k]));
      }
      buf.append(3, batch);
    }
  });
  int64_t next = 0;
  bool ok = true;
  while (next < kItems && ok) {
    const uint64_t seen = buf.appended();
    buf.consume(3, [&](const Item& it) {
      ok = ok && it.offset == next && it.payload == std::to_string(next) && it.timestamp_ms == next * 10;
      ++next;
      return true;
    });
    if (next < kItems) buf.wait_for_data(seen, std::chrono::milliseconds(100));
  }
  producer.join();
  EXPECT_TRUE(ok);
  EXPECT_EQ(next, kItems);
}

// Issue 14: with fixed 1 MiB chunks every partition held at least one chunk (and a 2 MiB floor
// two), so memory grew with the partition count. A small budget now gets small chunks: a full
// partition holds its budget plus at most one chunk.
TEST(PrefetchBuffer, SmallBudgetsHoldLittleMoreThanTheBudget) {
  constexpr size_t kBudget = 64u << 10;
  constexpr int32_t kManyPartitions = 96;
  PrefetchBuffer buf;
  buf.set_budget(kBudget);
  const std::string payload(115, 'e');
  int64_t offset = 0;
  for (int32_t p = 0; p < kManyPartitions; ++p) {
    while (!buf.full(p)) buf.append(p, {record(offset++, payload)});
  }
  EXPECT_LE(buf.bytes(), kManyPartitions * (kBudget + kBudget / 2));
  EXPECT_GE(buf.bytes(), kManyPartitions * kBudget);
  // Everything comes back, in order.
  int64_t seen = 0;
  for (int32_t p = 0; p < kManyPartitions; ++p) {
    buf.consume(p, [&](const Item& it) {
      EXPECT_EQ(it.offset, seen);
      EXPECT_EQ(it.payload, payload);
      ++seen;
      return true;
    });
  }
  EXPECT_EQ(seen, offset);
}

// Between two triggers the buffer empties; freed chunks went back to the kernel and the next
// batch faulted them in again. Chunks read to the end are kept and filled again, never more than
// the buffer's budget, and what comes out of a reused chunk is only what was appended to it.
TEST(PrefetchBuffer, ChunksReadToTheEndAreFilledAgainWithinTheBudget) {
  constexpr size_t kBudget = 64u << 10;
  PrefetchBuffer buf;
  buf.set_budget(kBudget);
  const std::string first(115, 'a'), second(100, 'b');
  int64_t offset = 0;
  for (int32_t p = 0; p < 2; ++p) {
    while (!buf.full(p)) buf.append(p, {record(offset++, first)});
  }
  const size_t held = buf.bytes();
  EXPECT_EQ(buf.spare_bytes(), 0u);
  int64_t seen = 0;
  for (int32_t p = 0; p < 2; ++p) seen += static_cast<int64_t>(take_until(buf, p, offset).size());
  EXPECT_EQ(seen, offset);
  const size_t spare = buf.spare_bytes();
  EXPECT_GT(spare, 0u);
  EXPECT_LE(spare, 2 * kBudget);
  EXPECT_EQ(buf.bytes() + spare, held);  // each partition's last chunk stays its tail

  // Refill: the spares are used before anything new is allocated, and only new items come out.
  const int64_t refill_from = offset;
  for (int32_t p = 0; p < 2; ++p) {
    while (!buf.full(p)) buf.append(p, {record(offset++, second)});
  }
  EXPECT_EQ(buf.spare_bytes(), 0u);
  std::vector<std::string> got = take_until(buf, 0, offset);
  for (const std::string& item : take_until(buf, 1, offset)) got.push_back(item);
  ASSERT_EQ(got.size(), static_cast<size_t>(offset - refill_from));
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], std::to_string(refill_from + i) + ":" + second);

  // Another chunk size drops the spares.
  buf.clear();
  EXPECT_GT(buf.spare_bytes(), 0u);
  buf.set_budget(4 * kBudget);
  EXPECT_EQ(buf.spare_bytes(), 0u);
}

// What the planner reads to put the records already in memory first: per partition with unread
// items, the offset past the last record held (or the end mark's offset); nothing once read.
TEST(PrefetchBuffer, HeldToIsPastTheLastRecordOrAtTheEndMark) {
  PrefetchBuffer buf;
  EXPECT_TRUE(buf.held_to().empty());
  buf.append(0, {record(5, "a"), record(6, "b")});
  buf.append(1, {record(0, "x"), Item{Kind::kEnd, 3, -1, {}}});
  buf.append(2, {Item{Kind::kError, 4, -1, "broker down"}});
  EXPECT_EQ(buf.held_to(), (std::map<int32_t, int64_t>{{0, 7}, {1, 3}}));
  EXPECT_EQ(take_until(buf, 0, 100), (std::vector<std::string>{"5:a", "6:b"}));
  EXPECT_EQ(buf.held_to(), (std::map<int32_t, int64_t>{{1, 3}}));
}

}  // namespace
}  // namespace kpipe
