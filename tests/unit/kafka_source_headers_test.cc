// KafkaSource hands over what KAFKA_COLUMNS shows of each message — key (null and empty told
// apart), topic, timestamp and its type, headers (null values kept) — when asked for, and
// nothing of the key and headers when not. Against librdkafka's in-process mock cluster.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kafka/source.h"
#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

using namespace std::chrono_literals;

struct Sent {
  std::optional<std::string> key;  // nullopt: a null key
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  int64_t timestamp_ms = 0;
};

std::vector<Sent> messages() {
  return {
      {std::nullopt, {}, 1762432200001},
      {std::string(), {{"trace", std::string("\x00\xff", 2)}, {"gone", std::nullopt}}, 1762432200002},
      {std::string("k\0y", 3), {{"e", std::string()}, {"trace", std::string("again")}}, 1762432200003},
  };
}

bool produce(const std::string& bootstrap, const std::string& topic, const std::vector<Sent>& sent) {
  rd_kafka_t* rk = new_test_producer({{"bootstrap.servers", bootstrap}});
  if (rk == nullptr) return false;
  bool ok = true;
  for (const Sent& s : sent) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(s.headers.size());
    for (const auto& [name, value] : s.headers) {
      rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value ? value->data() : nullptr,
                          value ? static_cast<ssize_t>(value->size()) : 0);
    }
    const std::string payload = "{}";
    // A null key has no pointer; an empty one has a pointer and no bytes.
    const char* key = s.key ? s.key->data() : nullptr;
    const size_t key_len = s.key ? s.key->size() : 0;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY(key, key_len),
        RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_TIMESTAMP(s.timestamp_ms), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(headers);  // owned by the message only once produced
      ADD_FAILURE() << "produce: " << rd_kafka_err2str(e);
      ok = false;
    }
  }
  if (rd_kafka_flush(rk, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) ok = false;
  rd_kafka_destroy(rk);
  return ok;
}

struct Got {
  bool has_key = false;
  std::string key;
  std::string topic;
  int64_t timestamp_ms = 0;
  KafkaTimestampType type = KafkaTimestampType::kNone;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::vector<Got> read_all(const std::string& bootstrap, const std::string& topic, bool with_key, bool with_headers,
                          int64_t count) {
  SourceOptions o;
  o.bootstrap_servers = bootstrap;
  o.topic = topic;
  o.kafka_props = {{"log_level", "0"}};
  o.stall_timeout = 5s;
  o.request_timeout = 5s;
  o.with_key = with_key;
  o.with_headers = with_headers;
  auto source = KafkaSource::open(o);
  EXPECT_TRUE(source.ok()) << source.status().message();
  std::vector<Got> got;
  if (!source.ok()) return got;
  std::atomic<bool> stop{false};
  Status st = (*source)->read(
      {PartitionRange{0, 0, count}},
      [&](const RawRecord& r) {
        Got g;
        g.has_key = r.has_key;
        g.key = std::string(r.key);
        g.topic = std::string(r.topic);
        g.timestamp_ms = r.timestamp_ms;
        g.type = r.timestamp_type;
        PackedHeaders headers(r.headers);
        PackedHeaders::Header h;
        while (headers.next(h)) {
          g.headers.emplace_back(std::string(h.name),
                                 h.null_value ? std::nullopt : std::optional<std::string>(std::string(h.value)));
        }
        got.push_back(std::move(g));
      },
      stop);
  EXPECT_TRUE(st.ok()) << st.message();
  return got;
}

TEST(KafkaSourceKafkaColumns, KeysAndHeadersWhenAskedFor) {
  const std::string topic = "source-headers";
  MockCluster cluster(topic, 1);
  const std::vector<Sent> sent = messages();
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, sent));

  std::vector<Got> got = read_all(cluster.bootstraps(), topic, true, true, static_cast<int64_t>(sent.size()));
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(got[i].has_key, sent[i].key.has_value()) << i;
    EXPECT_EQ(got[i].key, sent[i].key.value_or("")) << i;
    EXPECT_EQ(got[i].topic, topic);
    EXPECT_EQ(got[i].timestamp_ms, sent[i].timestamp_ms) << i;
    EXPECT_EQ(got[i].type, KafkaTimestampType::kCreateTime) << i;
    EXPECT_EQ(got[i].headers, sent[i].headers) << i;
  }
}

TEST(KafkaSourceKafkaColumns, NeitherKeysNorHeadersWhenNotAskedFor) {
  const std::string topic = "source-no-headers";
  MockCluster cluster(topic, 1);
  const std::vector<Sent> sent = messages();
  ASSERT_TRUE(produce(cluster.bootstraps(), topic, sent));

  std::vector<Got> got = read_all(cluster.bootstraps(), topic, false, false, static_cast<int64_t>(sent.size()));
  ASSERT_EQ(got.size(), sent.size());
  for (const Got& g : got) {
    EXPECT_FALSE(g.has_key);
    EXPECT_TRUE(g.headers.empty());
    EXPECT_EQ(g.topic, topic) << "the topic and the timestamp cost nothing: always there";
    EXPECT_EQ(g.type, KafkaTimestampType::kCreateTime);
  }
}

}  // namespace
}  // namespace kpipe
