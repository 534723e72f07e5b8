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

TEST(PrefetchBuffer, FullAtTheBudgetUntilConsumedPerPartition) {
  PrefetchBuffer buf;
  buf.set_budget(1);  // the first chunk fills it
  EXPECT_FALSE(buf.full(0));
  std::string big(3 << 20, 'z');  // larger than a chunk: a chunk of its own
  buf.append(0, {record(0, big), record(1, "after")});
  EXPECT_TRUE(buf.full(0));
  EXPECT_FALSE(buf.full(1));  // another partition's data never fills this one
  std::vector<size_t> sizes;
  bool freed = buf.consume(0, [&](const Item& it) {
    sizes.push_back(it.payload.size());
    return true;
  });
  EXPECT_EQ(sizes, (std::vector<size_t>{big.size(), 5}));
  EXPECT_TRUE(freed);  // the big chunk went; the last chunk stays for the producer
  EXPECT_LT(buf.bytes(), big.size());
  buf.clear();
  EXPECT_EQ(buf.bytes(), 0u);
  EXPECT_FALSE(buf.full(0));
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

}  // namespace
}  // namespace kpipe
