// FetchWaker on librdkafka's mock cluster: a wake sends one request for the partitions asked for,
// never blocks the caller, and the destructor waits for nothing longer than a reply.
#include "kafka/fetch_waker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

rd_kafka_t* new_consumer(const std::string& bootstraps) {
  return new_test_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstraps}, {"group.id", "kpipe-waker-test"}});
}

bool wait_for_requests(const FetchWaker& waker, uint64_t n) {
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (waker.requests() < n && steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(5));
  return waker.requests() >= n;
}

TEST(FetchWaker, AWakeSendsARequestWithoutBlockingAndTheDestructorEndsPromptly) {
  MockCluster cluster("events", 3);
  const auto started = steady_clock::now();
  rd_kafka_t* rk = new_consumer(cluster.bootstraps());
  ASSERT_NE(rk, nullptr);
  {
    FetchWaker waker(rk, "events", milliseconds(5000));
    waker.wake({});  // nothing to wake: no request
    std::this_thread::sleep_for(milliseconds(50));
    EXPECT_EQ(waker.requests(), 0u);

    const auto t0 = steady_clock::now();
    waker.wake({0, 1});
    EXPECT_LT(steady_clock::now() - t0, milliseconds(100)) << "wake() blocked";
    ASSERT_TRUE(wait_for_requests(waker, 1));
    waker.wake({2});
    ASSERT_TRUE(wait_for_requests(waker, 2));

    waker.wake({0});
    ASSERT_TRUE(wait_for_requests(waker, 3));
  }  // destroyed with a request just sent: waits for its reply, not for the 5 s deadline
  EXPECT_LT(steady_clock::now() - started, milliseconds(4000));
  rd_kafka_destroy(rk);
}

TEST(FetchWaker, TheDestructorWaitsAtMostTheDeadlineForAnUnansweredRequest) {
  rd_kafka_t* rk = new_consumer("127.0.0.1:1");  // nothing listens: no reply ever comes
  ASSERT_NE(rk, nullptr);
  const auto t0 = steady_clock::now();
  {
    FetchWaker waker(rk, "events", milliseconds(300));
    waker.wake({0});
    ASSERT_TRUE(wait_for_requests(waker, 1));
  }
  EXPECT_LT(steady_clock::now() - t0, std::chrono::seconds(3));
  rd_kafka_destroy(rk);
}

}  // namespace
}  // namespace kpipe
