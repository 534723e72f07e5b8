// librdkafka's in-process mock cluster for the Kafka unit tests (no real broker: that is what
// the integration tests are for), owned by a throw-away client handle, with one topic.
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kpipe {

class MockCluster {
 public:
  explicit MockCluster(const std::string& topic, int32_t partitions = 3) {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// A client for a test (`type`: RD_KAFKA_PRODUCER or RD_KAFKA_CONSUMER): `settings`
// (bootstrap.servers among them) over log_level=0, on `conf` when given (a delivery callback set
// on it), else a new one. nullptr, with a test failure naming the setting or librdkafka's reason,
// when it cannot be made; `conf` is consumed either way.
inline rd_kafka_t* new_test_client(rd_kafka_type_t type,
                                   const std::vector<std::pair<std::string, std::string>>& settings,
                                   rd_kafka_conf_t* conf = nullptr) {
  char err[256];
  if (conf == nullptr) conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  for (const auto& [k, v] : settings) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      ADD_FAILURE() << k << ": " << err;
      return nullptr;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    ADD_FAILURE() << (type == RD_KAFKA_PRODUCER ? "producer: " : "consumer: ") << err;
  }
  return rk;
}

// A producer for a test's messages (new_test_client).
inline rd_kafka_t* new_test_producer(const std::vector<std::pair<std::string, std::string>>& settings,
                                     rd_kafka_conf_t* conf = nullptr) {
  return new_test_client(RD_KAFKA_PRODUCER, settings, conf);
}

}  // namespace kpipe
