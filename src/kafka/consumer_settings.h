// The librdkafka properties of the consumer that reads a topic's partitions for `kpipe stream`.
//
// One definition for the two programs that must fetch alike: KafkaSource (src/kafka/source.cc),
// and bench/ceiling's `kpipe-ceiling --settings kpipe`, the fastest read of a topic with kpipe's
// own fetch settings that the benchmark measures kpipe against.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace kpipe {

// Properties in the order they are applied (the user's --kafka-prop come after them, in
// KafkaSource). The per-partition fetch and queue limits are shared out by `partitions`, so the
// totals stay those of 3 partitions whatever the partition count (see the .cc).
std::vector<std::pair<std::string, std::string>> stream_consumer_settings(const std::string& bootstrap_servers,
                                                                          const std::string& client_id,
                                                                          const std::string& topic, size_t partitions);

}  // namespace kpipe
