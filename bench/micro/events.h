// The events the micro-benchmarks feed through the stages: JSON payloads shaped exactly like
// `kpipe produce` writes them (the seed's 4 fields), and the Arrow batch the decoder makes of
// them, which is what the sinks encode in the pipeline; and a nested event of about 1 KB, as a
// team's own events look (two levels, an array of structs, a map, decimals).
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

namespace nested {

inline ColumnSpec leaf(std::string name, ColumnType type, int precision = 0, int scale = 0) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  c.precision = precision;
  c.scale = scale;
  return c;
}

inline ColumnSpec parent(std::string name, ColumnType type, std::vector<ColumnSpec> children) {
  ColumnSpec c = leaf(std::move(name), type);
  c.children = std::move(children);
  return c;
}

}  // namespace nested

// event_id STRING, ts TIMESTAMP, source STRING,
// user STRUCT<id: BIGINT, name: STRING, email: STRING, country: STRING, segment: STRING, tags: ARRAY<STRING>>,
// device STRUCT<os: STRING, version: STRING, model: STRING, ip: STRING, user_agent: STRING>,
// items ARRAY<STRUCT<sku: STRING, name: STRING, qty: INT, price: DECIMAL(10,2), discount: DOUBLE>>,
// attrs MAP<STRING, STRING>, total DECIMAL(12,2), currency STRING, session_ms BIGINT
// (built by hand: it does not depend on the DDL parser).
inline Schema nested_event_schema() {
  using nested::leaf;
  using nested::parent;
  using T = ColumnType;
  ColumnSpec key = leaf("key", T::kString);
  key.nullable = false;
  Schema schema;
  schema.columns = {
      leaf("event_id", T::kString),
      leaf("ts", T::kTimestamp),
      leaf("source", T::kString),
      parent("user", T::kStruct,
             {leaf("id", T::kInt64), leaf("name", T::kString), leaf("email", T::kString), leaf("country", T::kString),
              leaf("segment", T::kString), parent("tags", T::kArray, {leaf("element", T::kString)})}),
      parent("device", T::kStruct,
             {leaf("os", T::kString), leaf("version", T::kString), leaf("model", T::kString), leaf("ip", T::kString),
              leaf("user_agent", T::kString)}),
      parent("items", T::kArray,
             {parent("element", T::kStruct,
                     {leaf("sku", T::kString), leaf("name", T::kString), leaf("qty", T::kInt32),
                      leaf("price", T::kDecimal, 10, 2), leaf("discount", T::kDouble)})}),
      parent("attrs", T::kMap, {key, leaf("value", T::kString)}),
      leaf("total", T::kDecimal, 12, 2),
      leaf("currency", T::kString),
      leaf("session_ms", T::kInt64),
  };
  schema.arrow_schema = arrow_schema(schema.columns);
  return schema;
}

// `n` nested payloads of about 1 KB, fixed-seed values.
inline std::vector<std::string> nested_payloads(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; ++i) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
    const uint64_t user = state % 1000000;
    const uint64_t ms = 12 * 3600 * 1000 + i;
    char head[768];
    int len = std::snprintf(
        head, sizeof head,
        R"({"event_id":"kp-3f9a0c2b71de-%012zu","ts":"2025-11-06T%02llu:%02llu:%02llu.%03lluZ","source":"kpipe-producer",)"
        R"("user":{"id":%llu,"name":"user-%06llu","email":"user%06llu@example.com","country":"DE","segment":"premium",)"
        R"("tags":["returning","newsletter","mobile"]},)"
        R"("device":{"os":"android","version":"14.2.1","model":"Pixel 8","ip":"10.%llu.%llu.%llu",)"
        R"("user_agent":"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) )"
        R"(Chrome/120.0.6099.144 Mobile Safari/537.36"},"items":[)",
        i + 1, static_cast<unsigned long long>(ms / 3600000 % 24), static_cast<unsigned long long>(ms / 60000 % 60),
        static_cast<unsigned long long>(ms / 1000 % 60), static_cast<unsigned long long>(ms % 1000),
        static_cast<unsigned long long>(user), static_cast<unsigned long long>(user),
        static_cast<unsigned long long>(user), static_cast<unsigned long long>(user % 256),
        static_cast<unsigned long long>(user / 256 % 256), static_cast<unsigned long long>(i % 256));
    std::string payload(head, static_cast<size_t>(len));
    uint64_t total_cents = 0;
    for (int k = 0; k < 4; ++k) {
      const uint64_t cents = (state >> (k * 8)) % 10000 + 100;
      total_cents += cents;
      char item[192];
      len = std::snprintf(
          item, sizeof item,
          R"(%s{"sku":"SKU-%06llu","name":"Widget model %llu","qty":%d,"price":"%llu.%02llu","discount":0.%d})",
          k ? "," : "", static_cast<unsigned long long>((user + k) % 1000000),
          static_cast<unsigned long long>(cents % 97), k + 1, static_cast<unsigned long long>(cents / 100),
          static_cast<unsigned long long>(cents % 100), k);
      payload.append(item, static_cast<size_t>(len));
    }
    char tail[256];
    len = std::snprintf(
        tail, sizeof tail,
        R"(],"attrs":{"campaign":"winter-sale","ref":"newsletter","ab":"variant-b","page":"/checkout"},)"
        R"("total":%llu.%02llu,"currency":"EUR","session_ms":%llu})",
        static_cast<unsigned long long>(total_cents / 100), static_cast<unsigned long long>(total_cents % 100),
        static_cast<unsigned long long>(state % 600000));
    payload.append(tail, static_cast<size_t>(len));
    out.push_back(std::move(payload));
  }
  return out;
}

inline RecordDecoder nested_decoder() { return RecordDecoder(nested_event_schema(), kTsColumn, DecodeLimits{}); }

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
