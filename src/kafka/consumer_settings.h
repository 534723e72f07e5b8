// The librdkafka properties of the consumer that reads a topic's partitions for `kpipe stream`.
//
// One definition for the two programs that must fetch alike: KafkaSource (src/kafka/source.cc),
// and bench/ceiling's `kpipe-ceiling --settings kpipe`, the fastest read of a topic with kpipe's
// own fetch settings that the benchmark measures kpipe against.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace kpipe {

// How long the broker may hold a fetch until fetch.min.bytes are there (fetch.wait.max.ms), for
// a job whose batches start every `trigger`. A backlog fills a fetch at once; a slow topic gets
// one fetch per wait instead of one per message (at 1,000 events/s those were 60% of kpipe's
// CPU). A batch waits for it at most once, so: a twentieth of the trigger (5% more latency at
// most), between 100 ms (what kpipe used before) and 500 ms (librdkafka's default). `once`
// (draining, no trigger): 10 ms. A drain's partitions take turns (the prefetch thread's fetch
// slots), and a resumed partition waits for the fetch in flight, which holds for the whole wait
// once the partitions in it have reached their end: 96 partitions, 1,000,000 events, 1.13 s
// against 1.3 s with 100 ms (bench/results/PROFILE.md).
std::chrono::milliseconds fetch_wait_for(std::chrono::milliseconds trigger, bool once);

// Properties in the order they are applied (the user's --kafka-prop come after them, in
// KafkaSource). `fetch_wait`: fetch.wait.max.ms (fetch_wait_for). The per-partition fetch and
// queue limits are shared out by `partitions`, so the totals stay those of 3 partitions whatever
// the partition count (see the .cc). `rdkafka_version` (rd_kafka_version()'s form, 0x020100ff
// for 2.1.0): the librdkafka the properties are for, 0 for the one loaded; a property only newer
// releases know is left out for older ones.
std::vector<std::pair<std::string, std::string>> stream_consumer_settings(const std::string& bootstrap_servers,
                                                                          const std::string& client_id,
                                                                          std::chrono::milliseconds fetch_wait,
                                                                          const std::string& topic, size_t partitions,
                                                                          int rdkafka_version = 0);

}  // namespace kpipe
