// Wakes the librdkafka broker threads that fetch some partitions, from a thread of its own.
//
// librdkafka applies a resume (rd_kafka_resume_partitions) on its main thread, but the broker
// thread that fetches the partition looks at it again only when something wakes it: when every
// partition it fetches is paused it sleeps up to a second (2.0.2 and 2.16 alike; a drain to S3,
// whose slower batches let the prefetch thread pause every partition, read each batch about
// 850 ms late without a wake). A request to the partitions' leader wakes it, and the reply wakes
// it again in case it looked before the resume was applied.
//
// The request is ListOffsets (rd_kafka_offsets_for_times), which blocks until the reply, so it
// is sent here rather than on the prefetch thread, with a real deadline. Sending it with a 0 ms
// timeout instead (and dropping the reply) did not block, but librdkafka 2.16 counts a request
// that times out while in flight as a failure of the connection (socket.max.fails=1) and
// reconnects: the fetches then stalled 1 to 9 s.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kpipe {

class FetchWaker {
 public:
  // `rk`: the consumer, which must outlive this object. `timeout`: each request's deadline; it
  // must exceed the consumer's fetch.wait.max.ms, since the broker answers the connection's
  // requests in order and a long-polling fetch may be ahead of it.
  FetchWaker(rd_kafka_t* rk, std::string topic, std::chrono::milliseconds timeout);
  ~FetchWaker();  // waits for a request in flight (at most `timeout`)
  FetchWaker(const FetchWaker&) = delete;
  FetchWaker& operator=(const FetchWaker&) = delete;

  // Sends a request for `partitions` at once when none is in flight, else right after its reply
  // (together with any others asked for meanwhile). Never blocks.
  void wake(const std::vector<int32_t>& partitions);
  // Requests sent so far (tests).
  uint64_t requests() const;

 private:
  void run();

  rd_kafka_t* rk_;
  const std::string topic_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<int32_t> pending_;
  bool quit_ = false;
  uint64_t requests_ = 0;
  std::thread thread_;
};

}  // namespace kpipe
