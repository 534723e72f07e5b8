// Decode per record: RecordDecoder::add() for every payload of a batch, then finish(), as the
// engine calls them (batches of 100,000 here; MAX_BATCH_RECORDS in the pipeline).
#include <benchmark/benchmark.h>

#include "decode/kafka_columns.h"
#include "events.h"

namespace kpipe::bench {
namespace {

constexpr size_t kBatch = 100'000;

// Argument: percent of records made invalid (a control character in the middle of the JSON),
// which go the dead-letter way: copied, with a reason.
void BM_DecodeRecord(benchmark::State& state) {
  const auto bad_percent = static_cast<size_t>(state.range(0));
  std::vector<std::string> payloads = event_payloads(kBatch);
  size_t bytes = 0;
  for (size_t i = 0; i < payloads.size(); ++i) {
    if (i % 100 < bad_percent) payloads[i][payloads[i].size() / 2] = '\x01';
    bytes += payloads[i].size();
  }
  RecordDecoder decoder = event_decoder();
  for (auto _ : state) {
    for (size_t i = 0; i < payloads.size(); ++i) {
      RawRecord record;
      record.payload = payloads[i];
      record.offset = static_cast<int64_t>(i);
      decoder.add(record);
    }
    Result<DecodedBatch> batch = decoder.finish();
    if (!batch.ok()) {
      state.SkipWithError(batch.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(batch->rows);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * payloads.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["time_per_record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * payloads.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_DecodeRecord)->ArgName("bad_percent")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The nested event of about 1 KB (events.h): 10 columns, 2 structs, an array of 4 structs with a
// DECIMAL each, a map, 32 values per event. Compare bytes_per_second with BM_DecodeRecord's: the
// nested decode should cost no more per byte than the flat one.
void BM_DecodeNestedRecord(benchmark::State& state) {
  const std::vector<std::string> payloads = nested_payloads(kBatch / 10);
  size_t bytes = 0;
  for (const std::string& payload : payloads) bytes += payload.size();
  RecordDecoder decoder = nested_decoder();
  for (auto _ : state) {
    for (size_t i = 0; i < payloads.size(); ++i) {
      RawRecord record;
      record.payload = payloads[i];
      record.offset = static_cast<int64_t>(i);
      decoder.add(record);
    }
    Result<DecodedBatch> batch = decoder.finish();
    if (!batch.ok() || !batch->bad.empty()) {
      state.SkipWithError(batch.ok() ? batch->bad[0].reason.c_str() : batch.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(batch->rows);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * payloads.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["bytes_per_event"] = static_cast<double>(bytes) / static_cast<double>(payloads.size());
  state.counters["time_per_record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * payloads.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_DecodeNestedRecord)->Unit(benchmark::kMillisecond);


// KAFKA_COLUMNS (all seven, as the pipeline would copy them: a 16-byte key, two headers) with
// dt from the Kafka timestamp (PARTITION_FROM=timestamp): what Kafka's columns add per record.
void BM_DecodeRecordKafkaColumns(benchmark::State& state) {
  const std::vector<std::string> payloads = event_payloads(kBatch);
  size_t bytes = 0;
  for (const auto& p : payloads) bytes += p.size();
  Result<Schema> schema = parse_ddl(kEventSchema);
  if (!schema.ok() || !add_kafka_columns(*schema, "key,topic,partition,offset,timestamp,timestampType,headers").ok()) {
    state.SkipWithError("schema");
    return;
  }
  RecordDecoder decoder(std::move(schema).value(), kPartitionFromKafkaTimestamp, DecodeLimits{});
  std::string headers;
  PackedHeaders::append(headers, "trace-id", "0123456789abcdef0123456789abcdef");
  PackedHeaders::append(headers, "content-type", "application/json");
  for (auto _ : state) {
    for (size_t i = 0; i < payloads.size(); ++i) {
      RawRecord record;
      record.payload = payloads[i];
      record.offset = static_cast<int64_t>(i);
      record.topic = "events";
      record.timestamp_ms = 1762432200000 + static_cast<int64_t>(i);
      record.timestamp_type = KafkaTimestampType::kCreateTime;
      record.key = std::string_view(payloads[i]).substr(14, 16);
      record.has_key = true;
      record.headers = headers;
      decoder.add(record);
    }
    Result<DecodedBatch> batch = decoder.finish();
    if (!batch.ok()) {
      state.SkipWithError(batch.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(batch->rows);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * payloads.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["time_per_record"] =
      benchmark::Counter(static_cast<double>(state.iterations() * payloads.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_DecodeRecordKafkaColumns)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kpipe::bench
