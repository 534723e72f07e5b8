// Single-threaded throughput of RecordDecoder on the seed's 4-field event (not a unit test; the
// stage library does not build it). From the repository root, after building kpipe_decode in
// build-decode:
//
//   A=$PWD/.venv/lib/python3.11/site-packages/pyarrow
//   g++ -std=c++20 -O2 -DNDEBUG -Isrc -isystem $A/include src/decode/tools/decode_bench.cc \
//     build-decode/libkpipe_decode.a -lsimdjson $A/libarrow.so.2600 -Wl,-rpath,$A -o /tmp/decode_bench
//   /tmp/decode_bench [records=2000000] [batch=100000] [bad_percent=0]
//
// Payloads are generated before the clock starts, so only add() + finish() are timed.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "decode/record_decoder.h"

int main(int argc, char** argv) {
  const size_t records = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  const size_t batch_size = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100'000;
  const size_t bad_percent = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;

  std::vector<std::string> payloads;
  payloads.reserve(records);
  size_t bytes = 0;
  for (size_t i = 0; i < records; ++i) {
    char buf[256];
    const int day = 4 + static_cast<int>(i % 3);
    const int n = std::snprintf(
        buf, sizeof buf,
        R"({"event_id":"kp-1a2b-%012zu","ts":"2025-11-%02dT%02zu:%02zu:%02zu.%03zuZ","value":%zu.%02zu,"source":"kpipe-producer"})",
        i, day, i % 24, i % 60, (i / 7) % 60, i % 1000, i % 100, i % 97);
    payloads.emplace_back(buf, static_cast<size_t>(n));
    if (bad_percent > 0 && i % 100 < bad_percent) payloads.back()[payloads.back().size() / 2] = '\x01';
    bytes += payloads.back().size();
  }

  kpipe::Result<kpipe::Schema> schema =
      kpipe::parse_ddl("event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING");
  kpipe::RecordDecoder decoder(std::move(schema).value(), 1, kpipe::DecodeLimits{});

  size_t good = 0, bad = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < records; ++i) {
    kpipe::RawRecord record;
    record.payload = payloads[i];
    record.offset = static_cast<int64_t>(i);
    decoder.add(record);
    if ((i + 1) % batch_size == 0 || i + 1 == records) {
      kpipe::Result<kpipe::DecodedBatch> batch = decoder.finish();
      if (!batch.ok()) {
        std::fprintf(stderr, "%s\n", batch.status().message().c_str());
        return 1;
      }
      good += static_cast<size_t>(batch->rows->num_rows());
      bad += batch->bad.size();
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%zu records (%zu good, %zu bad), %.1f MB, batches of %zu: %.3f s, %.2f M records/s, %.0f MB/s\n",
              records, good, bad, bytes / 1e6, batch_size, seconds, records / seconds / 1e6,
              bytes / seconds / 1e6);
  return 0;
}
