// The events the micro-benchmarks feed through the stages: JSON payloads shaped exactly like
// `kpipe produce` writes them (the seed's 4 fields), and the Arrow batch the decoder makes of
// them, which is what the sinks encode in the pipeline.
#pragma once

#include <arrow/record_batch.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "decode/record_decoder.h"
#include "decode/schema.h"

namespace kpipe::bench {

inline constexpr const char* kEventSchema = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING";
inline constexpr int kTsColumn = 1;

// `n` payloads of one producer run: sequence ids, one event per millisecond from
// 2025-11-06T12:00:00Z, values 0.00..100.00 from a fixed-seed generator.
inline std::vector<std::string> event_payloads(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; ++i) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
    const uint64_t cents = state % 10001;
    const uint64_t ms = 12 * 3600 * 1000 + i;
    char buf[192];
    const int len = std::snprintf(
        buf, sizeof buf,
        R"({"event_id":"kp-3f9a0c2b71de-%012zu","ts":"2025-11-06T%02llu:%02llu:%02llu.%03lluZ","value":%llu.%02llu,"source":"kpipe-producer"})",
        i + 1, static_cast<unsigned long long>(ms / 3600000 % 24), static_cast<unsigned long long>(ms / 60000 % 60),
        static_cast<unsigned long long>(ms / 1000 % 60), static_cast<unsigned long long>(ms % 1000),
        static_cast<unsigned long long>(cents / 100), static_cast<unsigned long long>(cents % 100));
    out.emplace_back(buf, static_cast<size_t>(len));
  }
  return out;
}

inline RecordDecoder event_decoder() {
  Result<Schema> schema = parse_ddl(kEventSchema);
  if (!schema.ok()) throw std::runtime_error(schema.status().message());
  return RecordDecoder(std::move(schema).value(), kTsColumn, DecodeLimits{});
}

// The decoded batch of `n` events.
inline std::shared_ptr<arrow::RecordBatch> event_batch(size_t n) {
  RecordDecoder decoder = event_decoder();
  const std::vector<std::string> payloads = event_payloads(n);
  for (size_t i = 0; i < n; ++i) {
    RawRecord record;
    record.payload = payloads[i];
    record.offset = static_cast<int64_t>(i);
    decoder.add(record);
  }
  Result<DecodedBatch> batch = decoder.finish();
  if (!batch.ok()) throw std::runtime_error(batch.status().message());
  if (!batch->bad.empty()) throw std::runtime_error("event_batch: a generated event did not decode");
  return batch->rows;
}

}  // namespace kpipe::bench
