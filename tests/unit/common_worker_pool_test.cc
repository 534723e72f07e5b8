#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/worker_pool.h"

namespace kpipe {
namespace {

TEST(WorkerPool, RunsEveryTaskOnceOnSeveralThreadsAndIsReused) {
  WorkerPool pool(3);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> hits(97);
    std::mutex mu;
    std::set<std::thread::id> threads;
    Status st = pool.run(hits.size(), [&](size_t i) {
      hits[i]++;
      std::lock_guard lock(mu);
      threads.insert(std::this_thread::get_id());
      return Status::success();
    });
    ASSERT_TRUE(st.ok());
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    EXPECT_LE(threads.size(), 4u);
  }
}

TEST(WorkerPool, ReturnsTheErrorAndStopsHandingOutTasks) {
  WorkerPool pool(2);
  std::atomic<int> started{0};
  Status st = pool.run(10000, [&](size_t i) {
    started++;
    return i == 5 ? Status::retriable("disk full", StatusCode::kIoError) : Status::success();
  });
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_LT(started.load(), 10000);
  EXPECT_TRUE(pool.run(3, [](size_t) { return Status::success(); }).ok());
}

TEST(WorkerPool, AWorkersExceptionReachesTheCaller) {
  WorkerPool pool(2);
  Status st = pool.run(8, [](size_t i) -> Status {
    if (i == 3) throw std::runtime_error("boom");
    return Status::success();
  });
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("boom"), std::string::npos);
}

TEST(WorkerPool, NoThreadsRunsOnTheCaller) {
  WorkerPool pool(0);
  const auto me = std::this_thread::get_id();
  EXPECT_TRUE(pool.run(4,
                       [&](size_t) {
                         EXPECT_EQ(std::this_thread::get_id(), me);
                         return Status::success();
                       })
                  .ok());
}

}  // namespace
}  // namespace kpipe
