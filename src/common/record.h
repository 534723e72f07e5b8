// Records as they travel between the Kafka source, the decoder and the sinks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kpipe {

// One Kafka message as the source hands it to the decoder. `payload` and `key` point into
// librdkafka's message buffer and are valid only during the decoder call that receives them.
struct RawRecord {
  std::string_view payload;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // Kafka message timestamp; -1 when the broker has none
};

// A record that did not fit the schema. It owns copies of its bytes, so it outlives the
// Kafka message; bad records are rare, the copy is not on the hot path.
struct BadRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  std::string reason;   // human-readable, names the field: "field 'value': expected DOUBLE, got string"
  std::string payload;  // the raw bytes, unchanged (may be invalid UTF-8)
};

}  // namespace kpipe
