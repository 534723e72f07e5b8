// The decoder's throughput promise: no heap allocation per good record once its buffers have grown
// to the batch's size. Counts global operator new (std::string, vectors, simdjson) and the Arrow
// memory pool (column builders) separately.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <arrow/memory_pool.h>
#include <gtest/gtest.h>

#include "allocation_counter.h"
#include "decode/kafka_columns.h"
#include "decode/record_decoder.h"

namespace kpipe {
namespace {

std::vector<std::string> make_events(int count) {
  std::vector<std::string> events;
  for (int i = 0; i < count; ++i) {
    const std::string n = std::to_string(100000 + i);
    events.push_back(R"({"event_id":"kp-1a2b-0000)" + n + R"(","ts":"2025-11-0)" + std::to_string(4 + i % 3) +
                     R"(T12:30:00.123Z","value":)" + n + R"(.5,"source":"kpipe-producer"})");
  }
  return events;
}

TEST(RecordDecoderAllocation, NoHeapAllocationPerGoodRecordInSteadyState) {
  constexpr int kRecords = 20000;
  const std::vector<std::string> events = make_events(kRecords);
  Result<Schema> schema = parse_ddl("event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING");
  ASSERT_TRUE(schema.ok());
  arrow::ProxyMemoryPool pool(arrow::default_memory_pool());
  RecordDecoder decoder(std::move(schema).value(), 1, DecodeLimits{}, &pool);

  auto decode = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      RawRecord record;
      record.payload = events[static_cast<size_t>(i)];
      record.offset = i;
      decoder.add(record);
    }
  };
  decode(0, kRecords);  // the first batch sizes the buffers
  Result<DecodedBatch> first = decoder.finish();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->rows->num_rows(), kRecords);

  // A batch's first record reserves the buffers for it (sized by the previous batch); every
  // record after that must not allocate.
  decode(0, 1);
  const long news_before = g_news.load();
  const int64_t pool_before = pool.num_allocations();
  decode(1, kRecords);
  const long news = g_news.load() - news_before;
  const int64_t pool_allocations = pool.num_allocations() - pool_before;
  EXPECT_EQ(decoder.good_rows(), static_cast<size_t>(kRecords));
  EXPECT_EQ(news, 0) << "operator new calls while decoding " << kRecords - 1 << " good records";
  // Builders may still grow geometrically (a few reallocations), never once per record.
  EXPECT_LT(pool_allocations, 40) << "Arrow pool allocations for " << kRecords << " records";

  // The counter does see the decoder: a bad record owns a copy of its payload and reason.
  const long news_before_bad = g_news.load();
  RawRecord bad;
  bad.payload = "[1]";
  decoder.add(bad);
  EXPECT_GT(g_news.load() - news_before_bad, 0);
}

ColumnSpec leaf(std::string name, ColumnType type) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  return c;
}

ColumnSpec with_children(std::string name, ColumnType type, std::vector<ColumnSpec> children) {
  ColumnSpec c = leaf(std::move(name), type);
  c.children = std::move(children);
  return c;
}

// ts TIMESTAMP, user STRUCT<id: BIGINT, tags: ARRAY<STRING>>,
// items ARRAY<STRUCT<sku: STRING, price: DECIMAL(10,2)>>, attrs MAP<STRING, STRING>, raw BINARY
Schema nested_schema() {
  ColumnSpec price = leaf("price", ColumnType::kDecimal);
  price.precision = 10;
  price.scale = 2;
  ColumnSpec key = leaf("key", ColumnType::kString);
  key.nullable = false;
  Schema schema;
  schema.columns = {
      leaf("ts", ColumnType::kTimestamp),
      with_children("user", ColumnType::kStruct,
                    {leaf("id", ColumnType::kInt64),
                     with_children("tags", ColumnType::kArray, {leaf("element", ColumnType::kString)})}),
      with_children(
          "items", ColumnType::kArray,
          {with_children("element", ColumnType::kStruct, {leaf("sku", ColumnType::kString), std::move(price)})}),
      with_children("attrs", ColumnType::kMap, {std::move(key), leaf("value", ColumnType::kString)}),
      leaf("raw", ColumnType::kBinary),
  };
  schema.arrow_schema = arrow_schema(schema.columns);
  return schema;
}

// The issue's event, with a varying number of elements so builders see different shapes.
std::vector<std::string> make_nested_events(int count) {
  std::vector<std::string> events;
  for (int i = 0; i < count; ++i) {
    const std::string n = std::to_string(i);
    std::string items;
    for (int k = 0; k <= i % 3; ++k) {
      items += std::string(k ? "," : "") + R"({"sku":"x)" + n + R"(","price":")" + std::to_string(k) + ".30\"}";
    }
    events.push_back(R"({"ts":"2025-11-06T12:30:00Z","user":{"id":)" + n + R"(,"tags":["a","b"]},"items":[)" + items +
                     R"(],"attrs":{"k":"v","n":")" + n + R"("},"raw":"aGVsbG8=","extra":{"x":[1,2]}})");
  }
  return events;
}

TEST(RecordDecoderAllocation, NoHeapAllocationPerGoodNestedRecordInSteadyState) {
  constexpr int kRecords = 20000;
  const std::vector<std::string> events = make_nested_events(kRecords);
  arrow::ProxyMemoryPool pool(arrow::default_memory_pool());
  RecordDecoder decoder(nested_schema(), 0, DecodeLimits{}, &pool);

  auto decode = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      RawRecord record;
      record.payload = events[static_cast<size_t>(i)];
      record.offset = i;
      decoder.add(record);
    }
  };
  decode(0, kRecords);
  Result<DecodedBatch> first = decoder.finish();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->rows->num_rows(), kRecords) << (first->bad.empty() ? "" : first->bad[0].reason);

  decode(0, 1);
  const long news_before = g_news.load();
  const int64_t pool_before = pool.num_allocations();
  decode(1, kRecords);
  const long news = g_news.load() - news_before;
  const int64_t pool_allocations = pool.num_allocations() - pool_before;
  EXPECT_EQ(decoder.good_rows(), static_cast<size_t>(kRecords));
  EXPECT_EQ(news, 0) << "operator new calls while decoding " << kRecords - 1 << " good nested records";
  // Every nested builder was reserved from the last batch: no growth at all is expected, a few
  // reallocations are tolerated, never one per record.
  EXPECT_LT(pool_allocations, 10) << "Arrow pool allocations for " << kRecords << " nested records";

  Result<DecodedBatch> second = decoder.finish();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->rows->num_rows(), kRecords);
  EXPECT_TRUE(second->rows->ValidateFull().ok());
}

}  // namespace
// KAFKA_COLUMNS: the Kafka columns, headers included, hold the same promise.
TEST(RecordDecoderAllocation, KafkaColumnsAllocateNothingPerGoodRecordInSteadyState) {
  constexpr int kRecords = 20000;
  const std::vector<std::string> events = make_events(kRecords);
  Result<Schema> schema = parse_ddl("event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING");
  ASSERT_TRUE(schema.ok());
  ASSERT_TRUE(add_kafka_columns(*schema, "key,topic,partition,offset,timestamp,timestampType,headers").ok());
  arrow::ProxyMemoryPool pool(arrow::default_memory_pool());
  RecordDecoder decoder(std::move(schema).value(), kPartitionFromKafkaTimestamp, DecodeLimits{}, &pool);
  std::string headers;
  PackedHeaders::append(headers, "trace-id", "0123456789abcdef");
  PackedHeaders::append(headers, "null", "", true);

  auto decode = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      RawRecord record;
      record.payload = events[static_cast<size_t>(i)];
      record.offset = i;
      record.topic = "events";
      record.timestamp_ms = 1762432200000 + i;
      record.timestamp_type = KafkaTimestampType::kCreateTime;
      record.key = std::string_view(events[static_cast<size_t>(i)]).substr(14, 16);
      record.has_key = true;
      record.headers = headers;
      decoder.add(record);
    }
  };
  decode(0, kRecords);
  Result<DecodedBatch> first = decoder.finish();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->rows->num_rows(), kRecords);

  decode(0, 1);
  const long news_before = g_news.load();
  const int64_t pool_before = pool.num_allocations();
  decode(1, kRecords);
  EXPECT_EQ(decoder.good_rows(), static_cast<size_t>(kRecords));
  EXPECT_EQ(g_news.load() - news_before, 0) << "operator new calls while decoding " << kRecords - 1 << " records";
  EXPECT_LT(pool.num_allocations() - pool_before, 120) << "Arrow pool allocations for " << kRecords << " records";
}

}  // namespace kpipe
