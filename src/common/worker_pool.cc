#include "common/worker_pool.h"

#include <exception>

namespace kpipe {

WorkerPool::WorkerPool(unsigned threads) {
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    quit_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void WorkerPool::drain(std::unique_lock<std::mutex>& lock) {
  while (task_ != nullptr && next_ < size_ && first_error_.ok()) {
    const size_t i = next_++;
    ++running_;
    const auto* task = task_;
    lock.unlock();
    Status st;
    try {
      st = (*task)(i);
    } catch (const std::exception& e) {
      // A worker's exception is a bug; it travels to the caller instead of ending the process.
      st = Status::fatal(std::string("internal error in a worker task: ") + e.what(), StatusCode::kInternal);
    }
    lock.lock();
    --running_;
    if (!st.ok() && first_error_.ok()) first_error_ = std::move(st);
  }
  if (running_ == 0) done_.notify_all();
}

void WorkerPool::work() {
  std::unique_lock lock(mutex_);
  uint64_t seen = 0;
  while (true) {
    wake_.wait(lock, [&] { return quit_ || (generation_ != seen && task_ != nullptr); });
    if (quit_) return;
    seen = generation_;
    drain(lock);
  }
}

Status WorkerPool::run(size_t n, const std::function<Status(size_t)>& task) {
  if (n == 0) return Status::success();
  std::lock_guard run_lock(run_mutex_);
  std::unique_lock lock(mutex_);
  task_ = &task;
  size_ = n;
  next_ = 0;
  first_error_ = Status::success();
  ++generation_;
  if (n > 1) wake_.notify_all();
  drain(lock);
  done_.wait(lock, [&] { return running_ == 0 && (next_ >= size_ || !first_error_.ok()); });
  task_ = nullptr;
  Status st = std::move(first_error_);
  first_error_ = Status::success();
  return st;
}

}  // namespace kpipe
