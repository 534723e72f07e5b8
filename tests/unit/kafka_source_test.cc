// KafkaSource against librdkafka's in-process mock cluster: exact offset ranges read in
// consecutive batches while a slow consumer lets the prefetch buffer fill, so the prefetch
// thread pauses partitions and resumes them (the path a real broker needs most and a fast test
// would never take), and a replay of offsets already read.
#include "kafka/source.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

using namespace std::chrono_literals;

constexpr int32_t kPartitions = 3;
constexpr size_t kPayloadBytes = 120;

// Distinct per partition and offset, so a record delivered at the wrong offset or from the
// wrong partition cannot go unnoticed.
std::string payload_for(int32_t partition, int64_t offset) {
  std::string s = "p" + std::to_string(partition) + "-o" + std::to_string(offset) + "-";
  while (s.size() < kPayloadBytes) s.push_back(static_cast<char>('a' + (s.size() + offset) % 26));
  return s;
}

// Produces payload_for(p, o) for o in [from, counts[p]) to partition p, explicitly partitioned;
// returns false if anything was not delivered within the deadline. `from` continues a topic
// produced to counts of `from` before.
bool produce_counts(const std::string& bootstrap, const std::string& topic, const std::vector<int64_t>& counts,
                    int64_t from = 0) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  static std::atomic<int64_t> failed_deliveries{0};
  failed_deliveries = 0;
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) failed_deliveries.fetch_add(1);
  });
  rd_kafka_t* rk = new_test_producer(
      {
          {"bootstrap.servers", bootstrap},
          {"linger.ms", "5"},
          // The mock keeps about 5 MiB of log a partition and drops the oldest beyond that; LZ4
          // (what the producer uses in production) keeps the whole topic well inside it.
          {"compression.codec", "lz4"},
          {"queue.buffering.max.messages", "1000000"},
          {"queue.buffering.max.kbytes", "1048576"},
      },
      conf);
  if (rk == nullptr) return false;
  bool ok = true;
  const int64_t most = *std::max_element(counts.begin(), counts.end());
  for (int64_t o = from; o < most && ok; ++o) {
    for (int32_t p = 0; p < kPartitions && ok; ++p) {
      if (o >= counts[p]) continue;
      std::string value = payload_for(p, o);
      rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(p),
                                                RD_KAFKA_V_VALUE(value.data(), value.size()),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ADD_FAILURE() << "produce " << p << "/" << o << ": " << rd_kafka_err2str(e);
        ok = false;
      }
    }
  }
  if (rd_kafka_flush(rk, 20000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    ADD_FAILURE() << "flush timed out with " << rd_kafka_outq_len(rk) << " messages left";
    ok = false;
  }
  rd_kafka_destroy(rk);
  if (failed_deliveries.load() != 0) {
    ADD_FAILURE() << failed_deliveries.load() << " messages were not delivered";
    ok = false;
  }
  return ok;
}

bool produce(const std::string& bootstrap, const std::string& topic, int64_t per_partition) {
  return produce_counts(bootstrap, topic, std::vector<int64_t>(kPartitions, per_partition));
}

SourceOptions options_for(const std::string& bootstrap, const std::string& topic, size_t prefetch_bytes) {
  SourceOptions o;
  o.bootstrap_servers = bootstrap;
  o.topic = topic;
  o.client_id = "kpipe-source-test";
  o.kafka_props = {{"log_level", "0"}};  // the mock is chatty; the tests check what arrives
  o.prefetch_bytes = prefetch_bytes;
  o.stall_timeout = 5s;  // a partition that stays paused fails the read, not the run
  o.request_timeout = 5s;
  return o;
}

// Sets `stop` if the scope lasts longer than `limit`, so that no read can block the test run.
class Watchdog {
 public:
  Watchdog(std::atomic<bool>& stop, std::chrono::milliseconds limit)
      : thread_([this, &stop, limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) stop = true;
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// What a read delivered, checked as it arrives: offsets must come in order without gaps or
// repeats, each with the payload produced for it.
struct Checker {
  std::vector<int64_t> next = std::vector<int64_t>(kPartitions, 0);
  int64_t records = 0;
  int64_t out_of_order = 0;
  int64_t wrong_payload = 0;
  std::string first_problem;

  void operator()(const RawRecord& r) {
    ++records;
    if (r.partition < 0 || r.partition >= kPartitions) {
      note("unknown partition " + std::to_string(r.partition));
      ++out_of_order;
      return;
    }
    if (r.offset != next[r.partition]) {
      ++out_of_order;
      note("partition " + std::to_string(r.partition) + ": got offset " + std::to_string(r.offset) + ", expected " +
           std::to_string(next[r.partition]));
    }
    next[r.partition] = r.offset + 1;
    if (r.payload != payload_for(r.partition, r.offset)) {
      ++wrong_payload;
      note("partition " + std::to_string(r.partition) + " offset " + std::to_string(r.offset) + ": payload '" +
           std::string(r.payload) + "'");
    }
  }
  void note(std::string what) {
    if (first_problem.empty()) first_problem = std::move(what);
  }
};

std::unique_ptr<KafkaSource> open_source(const SourceOptions& options) {
  auto src = KafkaSource::open(options);
  EXPECT_TRUE(src.ok()) << src.status().message();
  return src.ok() ? std::move(src).value() : nullptr;
}

// The prefetch budget of each partition, in MiB: 0 gives KafkaSource's floor (64 KiB, in 16 KiB
// chunks: what each of many partitions gets), 2 is less than two of PrefetchBuffer's largest
// chunks, 4 leaves room between half and full.
class KafkaSourceBudget : public ::testing::TestWithParam<size_t> {};

TEST_P(KafkaSourceBudget, ReadsEveryOffsetOnceInBatchesWhilePausingFullPartitions) {
  const std::string topic = "source-batches";
  constexpr int64_t kPerPartition = 60'000;  // ~9 MiB a partition in the buffer: several times its share
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, kPerPartition));

  auto source = open_source(options_for(cluster.bootstraps(), topic, kPartitions * (GetParam() << 20)));
  ASSERT_TRUE(source);
  auto parts = source->partitions();
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  ASSERT_EQ(*parts, (std::vector<int32_t>{0, 1, 2}));
  std::vector<int64_t> high;
  for (int32_t p : *parts) {
    auto w = source->watermarks(p);
    ASSERT_TRUE(w.ok()) << w.status().message();
    EXPECT_EQ(w->low, 0);
    EXPECT_EQ(w->high, kPerPartition);
    high.push_back(w->high);
  }
  // All partitions at once (what the planner asks each batch) say the same.
  auto all = source->watermarks(*parts);
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), parts->size());
  for (int32_t p : *parts) {
    EXPECT_EQ(all->at(p).low, 0);
    EXPECT_EQ(all->at(p).high, high[p]);
  }

  std::atomic<bool> stop{false};
  Watchdog watchdog(stop, 30s);
  Checker check;
  // Slow now and then, as the engine is while it writes a file: the prefetch thread runs ahead
  // until each partition's share is full and has to pause it.
  // Until the first pause, each slow moment lasts until the prefetcher pauses a partition (or
  // 500 ms): on a loaded machine fixed 20 ms naps let a slow prefetcher never fill its share.
  auto on_record = [&](const RawRecord& r) {
    check(r);
    if (check.records % 10'000 != 0) return;
    std::this_thread::sleep_for(20ms);
    for (int i = 0; i < 50 && source->pauses() == 0; ++i) std::this_thread::sleep_for(10ms);
  };
  constexpr int kBatches = 4;
  for (int b = 0; b < kBatches; ++b) {
    std::vector<PartitionRange> ranges;
    for (int32_t p : *parts) ranges.push_back(PartitionRange{p, high[p] * b / kBatches, high[p] * (b + 1) / kBatches});
    Status st = source->read(ranges, on_record, stop);
    ASSERT_TRUE(st.ok()) << "batch " << b << ": " << st.message() << " (pauses so far: " << source->pauses()
                         << "; delivered " << check.next[0] << "/" << check.next[1] << "/" << check.next[2] << ")";
    for (int32_t p : *parts)
      EXPECT_EQ(check.next[p], high[p] * (b + 1) / kBatches) << "batch " << b << " partition " << p;
  }

  EXPECT_EQ(check.records, kPartitions * kPerPartition);
  EXPECT_EQ(check.out_of_order, 0) << check.first_problem;
  EXPECT_EQ(check.wrong_payload, 0) << check.first_problem;
  // Without a pause this test proves nothing about pausing and resuming.
  EXPECT_GT(source->pauses(), 0u);
  RecordProperty("pauses", static_cast<int>(source->pauses()));
}

// A partition the read waits for is fetched on past its share of the buffer until its range's end
// is in (while the whole buffer is under its budget): pausing it in the middle of the range made
// the read wait for a resume and a fetch round trip, again and again at 96 partitions, where a
// share is a fraction of one producer batch.
TEST(KafkaSource, APartitionTheReadWaitsForIsNotPausedBeforeItsRangeIsIn) {
  const std::string topic = "source-needed";
  constexpr int64_t kLong = 40'000, kShort = 100;  // partition 0: ~6 MiB in the buffer
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce_counts(cluster.bootstraps(), topic, {kLong, kShort, kShort}));
  // Shares of 4 MiB, less than partition 0 holds; the whole buffer's 12 MiB, more.
  auto source = open_source(options_for(cluster.bootstraps(), topic, 12u << 20));
  ASSERT_TRUE(source);
  std::atomic<bool> stop{false};
  Watchdog watchdog(stop, 30s);
  Checker check;
  // Slow now and then, as in the test above: a prefetcher that pauses a full partition has the
  // time to.
  auto on_record = [&](const RawRecord& r) {
    check(r);
    if (check.records % 2'500 == 0) std::this_thread::sleep_for(30ms);
  };
  std::vector<PartitionRange> ranges = {{0, 0, kLong}, {1, 0, kShort}, {2, 0, kShort}};
  Status st = source->read(ranges, on_record, stop);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(check.next[0], kLong);
  EXPECT_EQ(check.records, kLong + 2 * kShort);
  EXPECT_EQ(check.out_of_order, 0) << check.first_problem;
  EXPECT_EQ(check.wrong_payload, 0) << check.first_problem;
  // Partition 0 may be paused once all of it is in, when the reader is still far behind.
  EXPECT_EQ(source->mid_range_pauses(), 0u)
      << "partition 0 was paused before the read had all of it (" << source->pauses() << " pauses in all)";
}

INSTANTIATE_TEST_SUITE_P(PerPartition, KafkaSourceBudget, ::testing::Values(0, 2, 4),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::to_string(info.param) + "MiB";
                         });

TEST(KafkaSource, ReplayReadsTheSameRecordsAgain) {
  const std::string topic = "source-replay";
  constexpr int64_t kPerPartition = 5'000;
  constexpr int64_t kRead = 3'000;
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, kPerPartition));

  auto source = open_source(options_for(cluster.bootstraps(), topic, kPartitions * (2u << 20)));
  ASSERT_TRUE(source);
  std::vector<PartitionRange> ranges;
  for (int32_t p = 0; p < kPartitions; ++p) ranges.push_back(PartitionRange{p, 0, kRead});

  std::atomic<bool> stop{false};
  Watchdog watchdog(stop, 20s);
  for (int round = 0; round < 2; ++round) {
    // The first round leaves each partition positioned at kRead with more prefetched; the
    // second must reassign from 0 rather than continue from there.
    Checker check;
    Status st = source->read(
        ranges, [&](const RawRecord& r) { check(r); }, stop);
    ASSERT_TRUE(st.ok()) << "round " << round << ": " << st.message();
    EXPECT_EQ(check.records, kPartitions * kRead) << "round " << round;
    EXPECT_EQ(check.out_of_order, 0) << "round " << round << ": " << check.first_problem;
    EXPECT_EQ(check.wrong_payload, 0) << "round " << round << ": " << check.first_problem;
    for (int32_t p = 0; p < kPartitions; ++p) EXPECT_EQ(check.next[p], kRead) << "round " << round;
  }

  // And continuing after a replay picks up where it ended.
  Checker rest;
  rest.next = std::vector<int64_t>(kPartitions, kRead);
  std::vector<PartitionRange> tail;
  for (int32_t p = 0; p < kPartitions; ++p) tail.push_back(PartitionRange{p, kRead, kPerPartition});
  Status st = source->read(
      tail, [&](const RawRecord& r) { rest(r); }, stop);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(rest.records, kPartitions * (kPerPartition - kRead));
  EXPECT_EQ(rest.out_of_order, 0) << rest.first_problem;
  EXPECT_EQ(rest.wrong_payload, 0) << rest.first_problem;
}

// Reads [start, end) of every partition and expects each record once, in order, with its payload.
void expect_reads_in_order(KafkaSource& source, int64_t start, int64_t end) {
  std::vector<PartitionRange> ranges;
  for (int32_t p = 0; p < kPartitions; ++p) ranges.push_back(PartitionRange{p, start, end});
  std::atomic<bool> stop{false};
  Watchdog watchdog(stop, 20s);
  Checker check;
  check.next = std::vector<int64_t>(kPartitions, start);
  Status st = source.read(
      ranges, [&](const RawRecord& r) { check(r); }, stop);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(check.records, kPartitions * (end - start));
  EXPECT_EQ(check.out_of_order + check.wrong_payload, 0) << check.first_problem;
}

// A wait of kLongIdle or more before the next batch closes the metadata client
// (librdkafka 2.0.2's idle timer costs CPU every second). While the prefetch thread rests with
// every partition paused the consumer answers the plan; otherwise the plan makes the client
// again. The answers are the same, and reading goes on where it stood. A shorter wait keeps it.
TEST(KafkaSource, ALongIdleClosesTheMetadataClientAndPlansThroughTheConsumerWhileNothingIsFetched) {
  const std::string topic = "source-idle";
  constexpr int64_t kPerPartition = 1'000;
  constexpr int64_t kHalf = 500;
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, kPerPartition));
  auto source = open_source(options_for(cluster.bootstraps(), topic, kPartitions * (2u << 20)));
  ASSERT_TRUE(source);
  EXPECT_EQ(source->metadata_clients_made(), 1);
  std::vector<int32_t> ids;
  for (int32_t p = 0; p < kPartitions; ++p) ids.push_back(p);
  auto read_from = [&](int64_t start, int64_t end) { expect_reads_in_order(*source, start, end); };
  auto expect_plan = [&](int64_t high) {
    auto parts = source->partitions();
    ASSERT_TRUE(parts.ok()) << parts.status().message();
    EXPECT_EQ(*parts, ids);
    auto marks = source->watermarks(ids);
    ASSERT_TRUE(marks.ok()) << marks.status().message();
    for (int32_t p : ids) EXPECT_EQ(marks->at(p).high, high) << "partition " << p;
  };
  read_from(0, kHalf);

  source->idle(KafkaSource::kLongIdle - 1ms);
  expect_plan(kPerPartition);
  EXPECT_EQ(source->metadata_clients_made(), 1);

  // Resting: every partition holds its next record and is paused, so nothing is in flight on the
  // consumer's connection, and it answers the plan and the lag's queries.
  source->idle(KafkaSource::kLongIdle);
  EXPECT_EQ(source->metadata_clients_made(), 1);  // closed
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!source->all_paused() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(source->all_paused());
  expect_plan(kPerPartition);
  auto high = source->high_watermarks(ids, 5s);
  ASSERT_TRUE(high.ok()) << high.status().message();
  for (int32_t p : ids) EXPECT_EQ(high->at(p), kPerPartition) << "partition " << p;
  EXPECT_EQ(source->metadata_clients_made(), 1);
  read_from(kHalf, kPerPartition);

  // Everything read: the partitions wait for new records with a fetch in flight, which a query
  // on that connection would wait behind. The lag still asks the consumer; the plan makes the
  // metadata client again.
  source->idle(30s);
  const auto resumed_by = std::chrono::steady_clock::now() + 10s;  // the prefetch thread resumes them
  while (source->all_paused() && std::chrono::steady_clock::now() < resumed_by) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(source->all_paused());
  ASSERT_TRUE(source->high_watermarks(ids, 5s).ok());
  EXPECT_EQ(source->metadata_clients_made(), 1);
  expect_plan(kPerPartition);
  EXPECT_EQ(source->metadata_clients_made(), 2);
}

TEST(KafkaSource, ALongIdleFetchesOnlyTheFirstNewRecordUntilTheNextRead) {
  const std::string topic = "source-resting";
  constexpr int64_t kFirst = 200, kSecond = 1'200, kThird = 1'500;
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, kFirst));
  auto source = open_source(options_for(cluster.bootstraps(), topic, kPartitions * (2u << 20)));
  ASSERT_TRUE(source);
  auto read_from = [&](int64_t start, int64_t end) { expect_reads_in_order(*source, start, end); };
  // The furthest offset held ahead of the reads, per partition (its start when none).
  auto held_to = [&] {
    std::map<int32_t, int64_t> to;
    for (const auto& r : source->held_ranges()) to[r.partition] = r.end;
    return to;
  };
  read_from(0, kFirst);

  source->idle(30s);
  // One record to each partition: it is fetched (the lag's oldest record has its timestamp)...
  ASSERT_TRUE(produce_counts(cluster.bootstraps(), topic, std::vector<int64_t>(kPartitions, kFirst + 1), kFirst));
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (held_to().size() < static_cast<size_t>(kPartitions) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  for (int32_t p = 0; p < kPartitions; ++p) {
    auto ts = source->held_timestamp_ms(p, kFirst);
    EXPECT_TRUE(ts && *ts > 0) << "partition " << p;
  }
  // ...and what follows is not: the mock answers a fetch at once, so a source that went on
  // fetching would hold these 1,000 records of each partition well within the second.
  ASSERT_TRUE(produce_counts(cluster.bootstraps(), topic, std::vector<int64_t>(kPartitions, kSecond), kFirst + 1));
  std::this_thread::sleep_for(1s);
  for (const auto& [p, to] : held_to()) EXPECT_EQ(to, kFirst + 1) << "partition " << p << " was fetched on";
  read_from(kFirst, kSecond);

  // A wait shorter than kLongIdle: the source prefetches what arrives, all of it.
  source->idle(KafkaSource::kLongIdle - 1ms);
  ASSERT_TRUE(produce_counts(cluster.bootstraps(), topic, std::vector<int64_t>(kPartitions, kThird), kSecond));
  const auto deadline2 = std::chrono::steady_clock::now() + 10s;
  auto all_held = [&] {
    auto to = held_to();
    for (int32_t p = 0; p < kPartitions; ++p) {
      if (!to.count(p) || to[p] < kThird) return false;
    }
    return true;
  };
  while (!all_held() && std::chrono::steady_clock::now() < deadline2) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(all_held());
  read_from(kSecond, kThird);
}

// MAX_BATCH_BYTES: a read that reaches its byte limit ends every range where its partition stands,
// and the next read, from those ends, gets the rest: every record once, in order, none lost from
// what was fetched ahead past the cut.
TEST(KafkaSource, AReadEndsAtItsByteLimitAndTheNextGoesOnFromThere) {
  const std::string topic = "source-bytes";
  constexpr int64_t kPerPartition = 4'000;
  constexpr int64_t kLimit = 100'000;  // about 830 of the 120-byte records
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, kPerPartition));
  auto source = open_source(options_for(cluster.bootstraps(), topic, kPartitions * (2u << 20)));
  ASSERT_TRUE(source);

  std::atomic<bool> stop{false};
  Watchdog watchdog(stop, 30s);
  Checker check;
  std::vector<int64_t> start(kPartitions, 0);
  int reads = 0;
  while (check.records < kPartitions * kPerPartition && reads < 100) {
    std::vector<PartitionRange> ranges;
    for (int32_t p = 0; p < kPartitions; ++p) ranges.push_back(PartitionRange{p, start[p], kPerPartition});
    int64_t bytes = 0, records = 0;
    Status st = source->read_upto(
        ranges, kLimit,
        [&](const RawRecord& r) {
          check(r);
          bytes += static_cast<int64_t>(r.payload.size());
          ++records;
        },
        stop);
    ASSERT_TRUE(st.ok()) << "read " << reads << ": " << st.message();
    ++reads;
    ASSERT_GT(records, 0) << "read " << reads;
    // At most one record past the limit, and what came is exactly what the ranges now say.
    EXPECT_LT(bytes, kLimit + static_cast<int64_t>(kPayloadBytes)) << "read " << reads;
    int64_t in_ranges = 0;
    for (const auto& r : ranges) {
      EXPECT_EQ(r.start, start[r.partition]) << "read " << reads;
      EXPECT_LE(r.end, kPerPartition);
      EXPECT_EQ(check.next[r.partition], r.end) << "read " << reads << " partition " << r.partition;
      in_ranges += r.end - r.start;
      start[r.partition] = r.end;
    }
    EXPECT_EQ(in_ranges, records) << "read " << reads;
  }
  EXPECT_EQ(check.records, kPartitions * kPerPartition);
  EXPECT_EQ(check.out_of_order, 0) << check.first_problem;
  EXPECT_EQ(check.wrong_payload, 0) << check.first_problem;
  // 12,000 records of 120 bytes under a 100 KB limit: about 15 reads, never one.
  EXPECT_GE(reads, 12);
  EXPECT_LE(reads, 16);

  // Without a limit, one read takes everything that is left (here: nothing, then a replay).
  std::vector<PartitionRange> all;
  for (int32_t p = 0; p < kPartitions; ++p) all.push_back(PartitionRange{p, 0, kPerPartition});
  Checker again;
  Status st = source->read_upto(
      all, 0, [&](const RawRecord& r) { again(r); }, stop);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(again.records, kPartitions * kPerPartition);
  for (const auto& r : all) EXPECT_EQ(r.end, kPerPartition);
}

// What the consumer lag needs between batches (engine/lag_tracker.h), without a request: the high
// watermarks of the partitions being fetched, and the timestamp of the next batch's first record.
TEST(KafkaSource, LagWatermarksComeWithTheFetchesAndTheNextRecordIsHeld) {
  const std::string topic = "source-lag";
  constexpr int64_t kPerPartition = 1'000;
  constexpr int64_t kRead = 400;
  MockCluster cluster(topic, kPartitions);
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, kPerPartition));
  auto source = open_source(options_for(cluster.bootstraps(), topic, kPartitions * (4u << 20)));
  ASSERT_TRUE(source);
  const std::vector<int32_t> all = {0, 1, 2};

  EXPECT_TRUE(source->cached_high_watermarks(all).empty()) << "nothing fetched yet";
  auto asked = source->high_watermarks(all, 2s);
  ASSERT_TRUE(asked.ok()) << asked.status().message();
  EXPECT_EQ(*asked, (std::map<int32_t, int64_t>{{0, kPerPartition}, {1, kPerPartition}, {2, kPerPartition}}));

  std::vector<PartitionRange> ranges;
  for (int32_t p = 0; p < kPartitions; ++p) ranges.push_back(PartitionRange{p, 0, kRead});
  std::map<int32_t, int64_t> first_ts;
  std::atomic<bool> stop{false};
  Watchdog watchdog(stop, 20s);
  ASSERT_TRUE(source
                  ->read(
                      ranges,
                      [&](const RawRecord& r) {
                        if (r.offset == 0) first_ts[r.partition] = r.timestamp_ms;
                      },
                      stop)
                  .ok());
  // The first record of the range just read, while that batch is not committed.
  for (int32_t p : all) EXPECT_EQ(source->held_timestamp_ms(p, 0), first_ts[p]) << p;
  EXPECT_EQ(source->held_timestamp_ms(0, 123), std::nullopt) << "not where the source is";

  // Between batches the partitions are still fetched: their high watermarks come for free, and
  // the next batch's first record is prefetched.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::map<int32_t, int64_t> cached;
  std::map<int32_t, std::optional<int64_t>> held;
  auto ready = [&] {
    cached = source->cached_high_watermarks(all);
    for (int32_t p : all) held[p] = source->held_timestamp_ms(p, kRead);
    return cached.size() == all.size() && held[0] && held[1] && held[2];
  };
  while (!ready() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(cached, (std::map<int32_t, int64_t>{{0, kPerPartition}, {1, kPerPartition}, {2, kPerPartition}}));
  // What the planner puts first when MAX_BATCH_RECORDS cuts a batch: the records held from
  // where each partition's next range starts.
  const auto in_memory = source->held_ranges();
  ASSERT_EQ(in_memory.size(), all.size());
  for (const auto& h : in_memory) {
    EXPECT_EQ(h.start, kRead) << h.partition;
    EXPECT_GT(h.end, kRead) << h.partition;
    EXPECT_LE(h.end, kPerPartition) << h.partition;
  }
  // The timestamps are those the next read delivers.
  std::map<int32_t, int64_t> next_ts;
  std::vector<PartitionRange> next;
  for (int32_t p = 0; p < kPartitions; ++p) next.push_back(PartitionRange{p, kRead, kRead + 1});
  ASSERT_TRUE(source
                  ->read(
                      next, [&](const RawRecord& r) { next_ts[r.partition] = r.timestamp_ms; }, stop)
                  .ok());
  for (int32_t p : all) {
    ASSERT_TRUE(held[p]) << p;
    EXPECT_EQ(*held[p], next_ts[p]) << p;
    EXPECT_GT(*held[p], 0) << p;
  }
}

}  // namespace
}  // namespace kpipe
