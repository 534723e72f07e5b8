#include "kafka/fetch_waker.h"

#include <memory>
#include <utility>

namespace kpipe {

FetchWaker::FetchWaker(rd_kafka_t* rk, std::string topic, std::chrono::milliseconds timeout)
    : rk_(rk), topic_(std::move(topic)), timeout_(timeout), thread_([this] { run(); }) {}

FetchWaker::~FetchWaker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void FetchWaker::wake(const std::vector<int32_t>& partitions) {
  if (partitions.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.insert(partitions.begin(), partitions.end());
  }
  cv_.notify_one();
}

uint64_t FetchWaker::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void FetchWaker::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return quit_ || !pending_.empty(); });
    if (quit_) return;
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
        rd_kafka_topic_partition_list_new(static_cast<int>(pending_.size())), rd_kafka_topic_partition_list_destroy);
    for (int32_t p : pending_) {
      rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    }
    pending_.clear();
    ++requests_;
    lock.unlock();
    // The answer does not matter (an error or a timeout included): the request and its reply
    // are what wake the broker thread.
    (void)rd_kafka_offsets_for_times(rk_, list.get(), static_cast<int>(timeout_.count()));
    lock.lock();
  }
}

}  // namespace kpipe
