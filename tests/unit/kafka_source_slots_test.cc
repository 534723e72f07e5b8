// KafkaSource with many partitions, each holding one large producer batch (librdkafka's mock
// cluster): librdkafka decompresses a whole batch per fetched partition and keeps it while any
// of its messages is queued, so fetching every partition at once held partitions x batch
// (96 partitions: 150 MB). Only fetch_slots() partitions with a backlog may be fetched at once;
// the others wait paused and are resumed in turn, and every offset is still read exactly once.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "kafka/source.h"
#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kPartitions = 24;
constexpr int64_t kPerPartition = 3'000;  // one producer batch a partition (linger, see produce)

std::string payload_for(int32_t partition, int64_t offset) {
  std::string s = "p" + std::to_string(partition) + "-o" + std::to_string(offset) + "-";
  while (s.size() < 100) s.push_back(static_cast<char>('a' + (s.size() * 7 + offset) % 26));
  return s;
}

// All of each partition's messages in one batch: a long linger and a batch limit above them.
bool produce(const std::string& bootstrap, const std::string& topic) {
  rd_kafka_t* rk = new_test_producer({
      {"bootstrap.servers", bootstrap},
      {"linger.ms", "1000"},
      {"batch.num.messages", "10000"},
      {"compression.codec", "lz4"},
      {"queue.buffering.max.messages", "1000000"},
  });
  if (rk == nullptr) return false;
  bool ok = true;
  for (int32_t p = 0; p < kPartitions && ok; ++p) {
    for (int64_t o = 0; o < kPerPartition && ok; ++o) {
      std::string value = payload_for(p, o);
      ok = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
                             RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR_NO_ERROR;
    }
  }
  ok = ok && rd_kafka_flush(rk, 20000) == RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_destroy(rk);
  if (!ok) ADD_FAILURE() << "producing the test topic failed";
  return ok;
}

TEST(KafkaSourceSlots, FetchesFewPartitionsAtOnceAndReadsEveryOffsetOnce) {
  const std::string topic = "source-slots";
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic));

  SourceOptions o;
  o.bootstrap_servers = cluster.bootstraps();
  o.topic = topic;
  o.client_id = "kpipe-source-slots-test";
  o.kafka_props = {{"log_level", "0"}};
  o.prefetch_bytes = 1u << 20;  // the least number of slots
  o.stall_timeout = 10s;
  auto opened = KafkaSource::open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto source = std::move(opened).value();

  std::vector<int64_t> next(kPartitions, 0);
  int64_t records = 0, wrong = 0;
  size_t most_queued = 0;  // messages librdkafka held, seen while records arrived
  auto on_record = [&](const RawRecord& r) {
    ++records;
    if (r.partition < 0 || r.partition >= kPartitions || r.offset != next[r.partition] ||
        r.payload != payload_for(r.partition, r.offset)) {
      ++wrong;
      return;
    }
    ++next[r.partition];
    most_queued = std::max(most_queued, source->client_queued_messages());
  };
  std::atomic<bool> stop{false};
  // Two batches, as the planner splits a backlog: half of every partition each.
  for (int b = 0; b < 2; ++b) {
    std::vector<PartitionRange> ranges;
    for (int32_t p = 0; p < kPartitions; ++p) {
      ranges.push_back(PartitionRange{p, kPerPartition * b / 2, kPerPartition * (b + 1) / 2});
    }
    Status st = source->read(ranges, on_record, stop);
    ASSERT_TRUE(st.ok()) << "batch " << b << ": " << st.message();
  }
  EXPECT_EQ(records, kPartitions * kPerPartition);
  EXPECT_EQ(wrong, 0);
  ASSERT_GT(source->fetch_slots(), 0u);
  ASSERT_LT(source->fetch_slots(), static_cast<size_t>(kPartitions)) << "the test needs partitions held back";
  // All partitions fetched at once would queue up to kPartitions batches; one more than the
  // slots allows for end-of-partition marks and a partition whose slot has just been freed.
  EXPECT_LE(most_queued, (source->fetch_slots() + 1) * kPerPartition)
      << "librdkafka held " << most_queued << " messages with " << source->fetch_slots() << " fetch slots";
}

}  // namespace
}  // namespace kpipe
