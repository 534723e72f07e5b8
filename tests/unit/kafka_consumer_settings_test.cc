// stream_consumer_settings: the one definition of the stream consumer's librdkafka properties,
// used by KafkaSource and by bench/ceiling's `--settings kpipe`. The expected values are those
// KafkaSource::consumer_settings built before the function was factored out of it, so a change
// to kpipe's fetch settings shows here and moves the benchmark's ceiling with it.
#include "kafka/consumer_settings.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

namespace kpipe {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;
using std::chrono::milliseconds;
constexpr milliseconds kWait{100};
constexpr int kLibrdkafka2_0 = 0x020002ff;  // Debian 12's 2.0.2
constexpr int kLibrdkafka2_16 = 0x021000ff;

std::map<std::string, std::string> as_map(const Settings& settings) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : settings) EXPECT_TRUE(m.emplace(k, v).second) << k << " set twice";
  return m;
}

TEST(StreamConsumerSettings, ThreePartitionsAreTheFullPerPartitionLimits) {
  const Settings expected = {
      {"bootstrap.servers", "b:9092"},        {"client.id", "kpipe-stream"},
      {"group.id", "kpipe-stream-events"},    {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},  {"enable.partition.eof", "true"},
      {"auto.offset.reset", "error"},         {"fetch.wait.max.ms", "100"},
      {"fetch.min.bytes", "131072"},          {"max.partition.fetch.bytes", "131072"},
      {"fetch.max.bytes", "1048576"},         {"queued.min.messages", "8000"},
      {"queued.max.messages.kbytes", "4096"}, {"socket.keepalive.enable", "true"},
  };
  EXPECT_EQ(stream_consumer_settings("b:9092", "kpipe-stream", kWait, "events", 3, kLibrdkafka2_0), expected);
}

// librdkafka 2.1+ would wait a second before fetching again a partition whose (small) queue was
// full; 2.0 knows no such property and would refuse it.
TEST(StreamConsumerSettings, NewerLibrdkafkaFetchesAgainWithoutTheQueueBackoff) {
  EXPECT_EQ(as_map(stream_consumer_settings("b:9092", "c", kWait, "t", 3, kLibrdkafka2_16))["fetch.queue.backoff.ms"],
            "0");
  EXPECT_EQ(
      as_map(stream_consumer_settings("b:9092", "c", kWait, "t", 3, kLibrdkafka2_0)).count("fetch.queue.backoff.ms"),
      0u);
}

// Whatever librdkafka is linked (cmake/KpipeRdkafka.cmake), it accepts every property.
TEST(StreamConsumerSettings, TheLinkedLibrdkafkaAcceptsEveryProperty) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : stream_consumer_settings("b:9092", "c", kWait, "t", 12)) {
    EXPECT_EQ(rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err), RD_KAFKA_CONF_OK)
        << k << "=" << v << ": " << err << " (librdkafka " << rd_kafka_version_str() << ")";
  }
  rd_kafka_conf_destroy(conf);
  if (rd_kafka_version() >= 0x020100ff) {
    EXPECT_EQ(as_map(stream_consumer_settings("b:9092", "c", kWait, "t", 3))["fetch.queue.backoff.ms"], "0");
  }
}

TEST(StreamConsumerSettings, NinetySixPartitionsShareTheTotalsDownToTheFloors) {
  auto m = as_map(stream_consumer_settings("b:9092", "kpipe-stream", kWait, "events", 96));
  // 384 KiB / 96 = 4 KiB, below the 8 KiB floor; 24,000 / 96 = 250 < 500; 12,288 KiB / 96 = 128 < 256.
  EXPECT_EQ(m["max.partition.fetch.bytes"], "8192");
  EXPECT_EQ(m["queued.min.messages"], "500");
  EXPECT_EQ(m["queued.max.messages.kbytes"], "256");
  EXPECT_EQ(m["fetch.max.bytes"], "1048576");
  EXPECT_EQ(m["fetch.wait.max.ms"], "100");
  // A backlog in one partition of 96 must fill a fetch by itself: the broker counts at most
  // max.partition.fetch.bytes of each partition towards fetch.min.bytes.
  EXPECT_EQ(m["fetch.min.bytes"], "8192");
}

TEST(StreamConsumerSettings, TwelvePartitionsShareTheTotals) {
  auto m = as_map(stream_consumer_settings("b:9092", "c", kWait, "t", 12));
  EXPECT_EQ(m["max.partition.fetch.bytes"], std::to_string(32 << 10));
  EXPECT_EQ(m["queued.min.messages"], "2000");
  EXPECT_EQ(m["queued.max.messages.kbytes"], "1024");
}

TEST(StreamConsumerSettings, OnePartitionOrNoneIsCappedAtThePerPartitionMaximum) {
  for (size_t partitions : {0u, 1u}) {
    auto m = as_map(stream_consumer_settings("b:9092", "c", kWait, "t", partitions));
    EXPECT_EQ(m["max.partition.fetch.bytes"], "131072") << partitions;
    EXPECT_EQ(m["queued.min.messages"], "8000") << partitions;
    EXPECT_EQ(m["queued.max.messages.kbytes"], "4096") << partitions;
  }
}

TEST(StreamConsumerSettings, FetchWaitFollowsTheTriggerWithinBounds) {
  EXPECT_EQ(fetch_wait_for(milliseconds(30000), false), milliseconds(500));  // the seed's 30 s trigger
  EXPECT_EQ(fetch_wait_for(milliseconds(5000), false), milliseconds(250));
  EXPECT_EQ(fetch_wait_for(milliseconds(1000), false), milliseconds(100));  // latency runs: as before
  EXPECT_EQ(fetch_wait_for(milliseconds(100), false), milliseconds(100));
  EXPECT_EQ(fetch_wait_for(milliseconds(600000), true), milliseconds(10));  // --once drains
  auto m = as_map(stream_consumer_settings("b:9092", "c", fetch_wait_for(milliseconds(30000), false), "t", 3));
  EXPECT_EQ(m["fetch.wait.max.ms"], "500");
}

}  // namespace
}  // namespace kpipe
