// Records as they travel between the Kafka source, the decoder and the sinks.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace kpipe {

// Kafka's TimestampType ids, which Spark's Kafka source gives as its timestampType column.
enum class KafkaTimestampType : int8_t {
  kNone = -1,          // NO_TIMESTAMP_TYPE: message format v0 (Kafka before 0.10), no timestamp
  kCreateTime = 0,     // CREATE_TIME: set by the producer
  kLogAppendTime = 1,  // LOG_APPEND_TIME: set by the broker (topic's message.timestamp.type)
};

// A record's headers, packed into one byte string so that a source can keep them next to the
// payload without an allocation per record. Each header, in the order the producer sent them:
//   name length (uint32), name bytes, value length (int32, -1 = null value), value bytes
// with lengths in host byte order (the packed form never leaves the process).
class PackedHeaders {
 public:
  struct Header {
    std::string_view name;
    std::string_view value;
    bool null_value = false;  // Kafka distinguishes a null header value from an empty one
  };

  PackedHeaders() = default;
  explicit PackedHeaders(std::string_view packed) : rest_(packed) {}

  // The next header into `out`; false at the end, or if the bytes are not a packed form.
  bool next(Header& out) {
    uint32_t name_len = 0;
    int32_t value_len = 0;
    if (rest_.size() < sizeof name_len) return false;
    std::memcpy(&name_len, rest_.data(), sizeof name_len);
    rest_.remove_prefix(sizeof name_len);
    if (rest_.size() < name_len + sizeof value_len) return false;
    out.name = rest_.substr(0, name_len);
    std::memcpy(&value_len, rest_.data() + name_len, sizeof value_len);
    rest_.remove_prefix(name_len + sizeof value_len);
    out.null_value = value_len < 0;
    const size_t size = value_len < 0 ? 0 : static_cast<size_t>(value_len);
    if (rest_.size() < size) return false;
    out.value = rest_.substr(0, size);
    rest_.remove_prefix(size);
    return true;
  }

  // Bytes one header takes packed, and writes it at `out` (which must have that many bytes).
  static size_t packed_size(std::string_view name, std::string_view value) {
    return sizeof(uint32_t) + name.size() + sizeof(int32_t) + value.size();
  }
  static char* write(char* out, std::string_view name, std::string_view value, bool null_value) {
    const auto name_len = static_cast<uint32_t>(name.size());
    const int32_t value_len = null_value ? -1 : static_cast<int32_t>(value.size());
    std::memcpy(out, &name_len, sizeof name_len);
    out += sizeof name_len;
    if (!name.empty()) std::memcpy(out, name.data(), name.size());
    out += name.size();
    std::memcpy(out, &value_len, sizeof value_len);
    out += sizeof value_len;
    if (!null_value && !value.empty()) std::memcpy(out, value.data(), value.size());
    return out + (null_value ? 0 : value.size());
  }
  // Appends one header to `packed` (tests and fakes; a source writes into its own buffer).
  static void append(std::string& packed, std::string_view name, std::string_view value, bool null_value = false) {
    const size_t at = packed.size();
    packed.resize(at + packed_size(name, null_value ? std::string_view() : value));
    write(packed.data() + at, name, value, null_value);
  }

 private:
  std::string_view rest_;
};

// One Kafka message as the source hands it to the decoder. Every string_view points into the
// source's buffers (the payload, key and headers into its copy of the message, the topic into
// the source itself) and is valid only during the decoder call that receives it.
struct RawRecord {
  std::string_view payload;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // Kafka message timestamp; -1 when the broker has none
  KafkaTimestampType timestamp_type = KafkaTimestampType::kNone;
  std::string_view topic;
  // The key and the headers are copied by the source only when asked for (KAFKA_COLUMNS key,
  // headers: SourceOptions::with_key, with_headers); otherwise the record has neither.
  std::string_view key;
  bool has_key = false;      // false: a null key (Kafka tells a null key from an empty one)
  std::string_view headers;  // PackedHeaders form; empty: no headers
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
