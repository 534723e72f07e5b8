// A fixed set of threads, started once, that runs the tasks of one step in parallel.
//
// The engine encodes and writes a batch's files here. Threads per batch cost little at 30 s
// triggers but show when a backlog drains in thousands of small batches, and a pool makes the
// number of threads a property of the process, not of the batch.
//
//   WorkerPool pool(4);
//   Status st = pool.run(files.size(), [&](size_t i) { return write(files[i]); });
//
// run() hands the indices 0..n-1 out to the pool's threads and to the calling thread, waits
// until every task has returned, and returns the first error (the remaining tasks are not
// started once one failed). One run() at a time: calls from several threads are serialised.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace kpipe {

class WorkerPool {
 public:
  // `threads` workers besides the caller; 0 runs every task on the calling thread.
  explicit WorkerPool(unsigned threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  Status run(size_t n, const std::function<Status(size_t)>& task);
  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void work();
  // Runs tasks of the current job until none is left; called with `lock` held, returns with it held.
  void drain(std::unique_lock<std::mutex>& lock);

  std::mutex run_mutex_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_;  // workers: a job arrived, or quit
  std::condition_variable done_;  // run(): the last task finished
  const std::function<Status(size_t)>* task_ = nullptr;
  size_t size_ = 0;
  size_t next_ = 0;
  size_t running_ = 0;
  uint64_t generation_ = 0;
  Status first_error_;
  bool quit_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kpipe
