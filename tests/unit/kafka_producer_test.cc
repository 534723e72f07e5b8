// The producer against librdkafka's in-process mock cluster (no real broker: that is what the
// integration tests are for), and against an address where nothing listens.
#include "kafka/producer.h"

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Reads every message of `topic` from the start: key (or "<null>") → value.
std::vector<std::pair<std::string, std::string>> read_all(const MockCluster& cluster, const std::string& topic,
                                                          size_t expected) {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", cluster.bootstraps().c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "kpipe-test", err, sizeof err);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(consumer);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(3);
  for (int p = 0; p < 3; ++p)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::vector<std::pair<std::string, std::string>> out;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.emplace_back(m->key ? std::string(static_cast<const char*>(m->key), m->key_len) : "<null>",
                       std::string(static_cast<const char*>(m->payload), m->len));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  return out;
}

ProducerConfig config_for(std::string bootstrap, std::string topic) {
  ProducerConfig c;
  c.bootstrap_servers = std::move(bootstrap);
  c.topic = std::move(topic);
  return c;
}

std::unique_ptr<Producer> make(ProducerConfig config) {
  config.kafka_props.emplace_back("log_level", "0");  // the mock is chatty; the tests check counters
  auto p = Producer::create(config);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? std::move(p).value() : nullptr;
}

TEST(Producer, DeliversKeysAndValuesUnchanged) {
  MockCluster cluster("t1");
  auto producer = make(config_for(cluster.bootstraps(), "t1"));
  ASSERT_TRUE(producer);
  std::map<std::string, std::string> sent;
  for (int i = 0; i < 1000; ++i) {
    std::string key = "k" + std::to_string(i);
    std::string value = R"({"n":)" + std::to_string(i) + R"(,"s":"été \"q\""})";
    Status st = producer->send(value, key);
    ASSERT_TRUE(st.ok()) << st.message();
    sent[key] = value;
  }
  ASSERT_TRUE(producer->send("no key", std::nullopt).ok());
  EXPECT_EQ(producer->sent(), 1001);
  ASSERT_TRUE(producer->flush(20s).ok());
  EXPECT_EQ(producer->delivered(), 1001);
  EXPECT_EQ(producer->failed(), 0);
  EXPECT_EQ(producer->in_flight(), 0);
  EXPECT_EQ(producer->first_failure(), "");
  EXPECT_TRUE(producer->fatal_error().ok());

  auto got = read_all(cluster, "t1", 1001);
  ASSERT_EQ(got.size(), 1001u);
  std::map<std::string, std::string> received;
  for (auto& [k, v] : got) received[k] = v;
  EXPECT_EQ(received["<null>"], "no key");
  received.erase("<null>");
  EXPECT_EQ(received, sent);
}

TEST(Producer, PollFromAnotherThreadWhileSending) {
  MockCluster cluster("t2");
  auto producer = make(config_for(cluster.bootstraps(), "t2"));
  ASSERT_TRUE(producer);
  std::atomic<bool> stop{false};
  std::thread poller([&] {
    while (!stop) producer->poll(10ms);
  });
  int64_t sent = 0;
  while (sent < 50000) {
    Status st = producer->send("x", std::to_string(sent));
    if (st.is_retriable()) continue;
    ASSERT_TRUE(st.ok()) << st.message();
    ++sent;
  }
  Status flushed = producer->flush(30s);
  stop = true;
  poller.join();
  EXPECT_TRUE(flushed.ok()) << flushed.message();
  EXPECT_EQ(producer->delivered(), 50000);
}

TEST(Producer, UnreachableBrokerFailsAfterTheMessageTimeoutAndSaysWhere) {
  ProducerConfig config = config_for("127.0.0.1:1", "t");
  config.message_timeout = 1500ms;
  auto producer = Producer::create(config);
  ASSERT_TRUE(producer.ok());
  ASSERT_TRUE((*producer)->send("v", std::string("k")).ok());
  Status st = (*producer)->flush(10s);
  EXPECT_TRUE(st.ok()) << st.message();  // nothing left in flight: it failed
  EXPECT_EQ((*producer)->failed(), 1);
  EXPECT_EQ((*producer)->delivered(), 0);
  EXPECT_THAT((*producer)->first_failure(), HasSubstr("timed out"));
  EXPECT_EQ((*producer)->last_error(), "cannot reach 127.0.0.1:1 (Connection refused); retrying");
}

TEST(Producer, QueueFullIsRetriable) {
  ProducerConfig config = config_for("127.0.0.1:1", "t");
  config.kafka_props = {{"queue.buffering.max.messages", "10"}, {"log_level", "0"}};
  auto producer = Producer::create(config);
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE((*producer)->send("v", std::nullopt).ok());
  Status st = (*producer)->send("v", std::nullopt);
  EXPECT_TRUE(st.is_retriable());
  EXPECT_EQ(st.message(), "producer queue full");
  EXPECT_EQ((*producer)->sent(), 10);
}

TEST(Producer, FlushKeepsItsDeadlineAndPurgeFailsTheRest) {
  ProducerConfig config = config_for("127.0.0.1:1", "t");
  config.kafka_props = {{"log_level", "0"}};
  auto producer = Producer::create(config);
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE((*producer)->send("v", std::nullopt).ok());
  const auto t0 = std::chrono::steady_clock::now();
  Status st = (*producer)->flush(300ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_TRUE(st.is_retriable());
  EXPECT_THAT(st.message(), HasSubstr("5 messages still in flight"));
  (*producer)->purge();
  (*producer)->poll(100ms);
  EXPECT_EQ((*producer)->failed(), 5);
  EXPECT_EQ((*producer)->in_flight(), 0);
}

TEST(Producer, OversizedMessageFailsAtOnce) {
  ProducerConfig config = config_for("127.0.0.1:1", "t");
  config.kafka_props = {{"message.max.bytes", "1000"}, {"log_level", "0"}};
  auto producer = Producer::create(config);
  ASSERT_TRUE(producer.ok());
  Status st = (*producer)->send(std::string(5000, 'x'), std::nullopt);
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_THAT(st.message(), HasSubstr("message of 5000 bytes is larger than"));
  EXPECT_EQ((*producer)->sent(), 1);
  EXPECT_EQ((*producer)->failed(), 1);
  EXPECT_EQ((*producer)->in_flight(), 0);
}

TEST(Producer, CheckTopic) {
  MockCluster cluster("exists");
  auto producer = make(config_for(cluster.bootstraps(), "exists"));
  ASSERT_TRUE(producer);
  EXPECT_TRUE(producer->check_topic(5s).ok());
  // A missing topic is checked against a real broker (tests/integration/test_produce.py): the
  // mock cluster creates every topic it is asked about.
  auto unreachable = make(config_for("127.0.0.1:1", "t"));
  Status st = unreachable->check_topic(500ms);
  EXPECT_TRUE(st.is_retriable()) << st.message();
}

TEST(Producer, BadKafkaPropertyIsAFatalErrorNamingIt) {
  ProducerConfig config = config_for("127.0.0.1:9092", "t");
  config.kafka_props = {{"linger.ms", "soon"}};
  auto producer = Producer::create(config);
  ASSERT_FALSE(producer.ok());
  EXPECT_THAT(producer.status().message(), HasSubstr("--kafka-prop linger.ms=soon: Invalid value"));
}

}  // namespace
}  // namespace kpipe
