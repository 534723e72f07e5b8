// The writer fence against librdkafka's in-process mock cluster, and the takeover by a second
// instance against a real broker.
//
// librdkafka 2.0.2's mock cluster implements InitProducerId, AddOffsetsToTxn, TxnOffsetCommit and
// EndTxn, so one holder's transactions run against it. It does not fence, though: an
// InitProducerId without a current producer id always gets a new producer id (rdkafka_mock_handlers.c,
// rd_kafka_mock_pid_new), and the older id's epoch stays valid, so two instances with the same
// transactional.id both pass. The mock tests therefore inject the coordinator's "fenced" answer,
// and the real takeover runs only with KPIPE_TEST_BOOTSTRAP set (e.g. 127.0.0.1:19092 after
// `KAFKA_PORT=19092 scripts/kafka start`).
#include "kafka/writer_fence.h"

#include <unistd.h>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Kafka protocol ApiKeys (librdkafka's RD_KAFKAP_* are in a private header).
constexpr int16_t kAddOffsetsToTxn = 25;
constexpr int16_t kEndTxn = 26;

const std::vector<std::pair<int32_t, int64_t>> kOffsets = {{0, 10}, {1, 20}};

WriterFenceOptions options_for(std::string bootstrap, std::string id, std::string holder = "test") {
  WriterFenceOptions o;
  o.bootstrap_servers = std::move(bootstrap);
  o.kafka_props = {{"log_level", "0"}};  // the mock is chatty; the tests check statuses
  o.transactional_id = std::move(id);
  o.group_id = "kpipe-fence-test";
  o.holder = std::move(holder);
  o.timeout_ms = 10000;
  return o;
}

std::unique_ptr<WriterFence> acquire(const WriterFenceOptions& o) {
  auto fence = acquire_kafka_fence(o);
  EXPECT_TRUE(fence.ok()) << fence.status().message();
  return fence.ok() ? std::move(fence).value() : nullptr;
}

// The two-fence scenario: B takes over A's transactional.id; A learns it at its next check.
void expect_takeover(const std::string& bootstrap, const std::string& topic, const std::string& id) {
  auto t0 = std::chrono::steady_clock::now();
  auto ms_since = [&t0] {
    auto now = std::chrono::steady_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - t0).count();
    t0 = now;
    return ms;
  };
  auto a = acquire(options_for(bootstrap, id, "instance A"));
  ASSERT_TRUE(a);
  std::cout << "acquire A: " << ms_since() << " ms\n";
  Status st = a->check(topic, kOffsets);
  ASSERT_TRUE(st.ok()) << st.message();
  std::cout << "check A: " << ms_since() << " ms\n";

  auto b = acquire(options_for(bootstrap, id, "instance B"));
  ASSERT_TRUE(b);
  std::cout << "acquire B: " << ms_since() << " ms\n";
  st = a->check(topic, kOffsets);
  std::cout << "check A (fenced): " << ms_since() << " ms: " << st.message() << "\n";
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_EQ(st.code(), StatusCode::kLocked) << st.message();
  EXPECT_THAT(st.message(), HasSubstr("another instance took over transactional.id '" + id + "'"));
  EXPECT_THAT(st.message(), HasSubstr("instance A"));
  EXPECT_THAT(st.message(), HasSubstr("must stop"));
  // Fenced for good: the producer cannot be used again, and is not silently re-created.
  Status again = a->check(topic, kOffsets);
  EXPECT_EQ(again.code(), StatusCode::kLocked);

  ms_since();
  st = b->check(topic, kOffsets);
  EXPECT_TRUE(st.ok()) << st.message();
  std::cout << "check B: " << ms_since() << " ms\n";
  st = b->check(topic, {{0, 11}, {1, 21}});
  EXPECT_TRUE(st.ok()) << st.message();
  std::cout << "check B again: " << ms_since() << " ms\n";
}

TEST(WriterFence, OneHolderChecksRepeatedly) {
  MockCluster cluster("t1");
  auto fence = acquire(options_for(cluster.bootstraps(), "kpipe-checkpoint-one"));
  ASSERT_TRUE(fence);
  Status st = fence->check("t1", kOffsets);
  EXPECT_TRUE(st.ok()) << st.message();
  st = fence->check("t1", {{0, 11}, {1, 25}, {2, 0}});
  EXPECT_TRUE(st.ok()) << st.message();
}

// MockCluster without the handle: the tests below inject errors into the cluster.
class InjectingMockCluster {
 public:
  InjectingMockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    cluster_ = rd_kafka_mock_cluster_new(handle_, 1);
    rd_kafka_mock_topic_create(cluster_, "t1", 3, 1);
  }
  ~InjectingMockCluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(handle_);
  }
  InjectingMockCluster(const InjectingMockCluster&) = delete;
  InjectingMockCluster& operator=(const InjectingMockCluster&) = delete;
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  rd_kafka_mock_cluster_t* get() const { return cluster_; }

 private:
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// What the coordinator answers an older holder: PRODUCER_FENCED (Kafka 2.7+) or
// INVALID_PRODUCER_EPOCH (older brokers); librdkafka makes both a fatal error.
class WriterFenceFenced : public ::testing::TestWithParam<rd_kafka_resp_err_t> {};

TEST_P(WriterFenceFenced, FencedAnswerIsLockedForGood) {
  InjectingMockCluster cluster;
  auto fence = acquire(options_for(cluster.bootstraps(), "kpipe-checkpoint-fenced", "instance A"));
  ASSERT_TRUE(fence);
  Status st = fence->check("t1", kOffsets);
  ASSERT_TRUE(st.ok()) << st.message();
  rd_kafka_mock_push_request_errors(cluster.get(), kAddOffsetsToTxn, 1, GetParam());
  st = fence->check("t1", kOffsets);
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_EQ(st.code(), StatusCode::kLocked) << st.message();
  EXPECT_THAT(st.message(), HasSubstr("another instance took over transactional.id 'kpipe-checkpoint-fenced'"));
  EXPECT_THAT(st.message(), HasSubstr("instance A"));
  st = fence->check("t1", kOffsets);
  EXPECT_EQ(st.code(), StatusCode::kLocked) << st.message();
}

INSTANTIATE_TEST_SUITE_P(Codes, WriterFenceFenced,
                         ::testing::Values(RD_KAFKA_RESP_ERR_PRODUCER_FENCED,
                                           RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH));

// A coordinator that is briefly unavailable: retriable, and the next check passes.
TEST(WriterFence, RetriableTransactionErrorThenRecovers) {
  InjectingMockCluster cluster;
  auto o = options_for(cluster.bootstraps(), "kpipe-checkpoint-flaky");
  o.timeout_ms = 1000;
  auto fence = acquire(o);
  ASSERT_TRUE(fence);
  // More failures than librdkafka retries within the timeout.
  for (int i = 0; i < 50; ++i) {
    rd_kafka_mock_push_request_errors(cluster.get(), kEndTxn, 1, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
  }
  Status st = fence->check("t1", kOffsets);
  EXPECT_EQ(st.kind(), ErrorKind::kRetriable) << st.message();
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << st.message();
  rd_kafka_mock_clear_request_errors(cluster.get(), kEndTxn);
  st = fence->check("t1", kOffsets);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(WriterFence, DifferentIdsDoNotFenceEachOther) {
  MockCluster cluster("t1");
  auto a = acquire(options_for(cluster.bootstraps(), "kpipe-checkpoint-a"));
  auto b = acquire(options_for(cluster.bootstraps(), "kpipe-checkpoint-b"));
  ASSERT_TRUE(a && b);
  for (int i = 0; i < 2; ++i) {
    Status st = a->check("t1", kOffsets);
    EXPECT_TRUE(st.ok()) << st.message();
    st = b->check("t1", kOffsets);
    EXPECT_TRUE(st.ok()) << st.message();
  }
}

TEST(WriterFence, RefusesOffsetsThatWouldNotReachTheCoordinator) {
  MockCluster cluster("t1");
  auto fence = acquire(options_for(cluster.bootstraps(), "kpipe-checkpoint-empty"));
  ASSERT_TRUE(fence);
  Status st = fence->check("t1", {});
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("no offsets"));
  // All-invalid offsets are skipped by librdkafka the same way.
  st = fence->check("t1", {{0, -1}});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  // Neither refusal spoils the fence.
  st = fence->check("t1", kOffsets);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(WriterFence, UnreachableBrokerIsRetriableWithinTheTimeout) {
  auto o = options_for("127.0.0.1:1", "kpipe-checkpoint-unreachable");
  o.timeout_ms = 2000;
  const auto start = std::chrono::steady_clock::now();
  auto fence = acquire_kafka_fence(o);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(fence.ok());
  EXPECT_EQ(fence.status().kind(), ErrorKind::kRetriable);
  EXPECT_EQ(fence.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(fence.status().message(), HasSubstr("127.0.0.1:1"));
  EXPECT_LT(took, 3500ms);
}

TEST(WriterFence, BadPropertyIsInvalidArgument) {
  auto o = options_for("127.0.0.1:1", "kpipe-checkpoint-bad");
  o.kafka_props.emplace_back("transaction.timeout.ms", "soon");
  auto fence = acquire_kafka_fence(o);
  ASSERT_FALSE(fence.ok());
  EXPECT_EQ(fence.status().kind(), ErrorKind::kFatal);
  EXPECT_EQ(fence.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(fence.status().message(), HasSubstr("transaction.timeout.ms"));
}

TEST(WriterFence, NoFenceAlwaysPasses) {
  auto fence = no_fence();
  EXPECT_TRUE(fence->check("t1", kOffsets).ok());
  EXPECT_TRUE(fence->check("t1", {}).ok());
}

// Runs only with KPIPE_TEST_BOOTSTRAP set: the real broker's coordinator, __transaction_state
// and __consumer_offsets instead of the mock's.
TEST(WriterFence, NewerHolderFencesTheOlderOnARealBroker) {
  const char* bootstrap = std::getenv("KPIPE_TEST_BOOTSTRAP");
  if (bootstrap == nullptr || *bootstrap == '\0') GTEST_SKIP() << "KPIPE_TEST_BOOTSTRAP not set";
  // TxnOffsetCommit needs the topic (create it: scripts/kafka topic kpipe-fence-test 2); a fresh
  // id per run keeps runs apart.
  expect_takeover(bootstrap, "kpipe-fence-test",
                  "kpipe-checkpoint-test-" + std::to_string(::getpid()) + "-" +
                      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
}

}  // namespace
}  // namespace kpipe
