// Encode per row: one output file's bytes from a decoded batch, for the Parquet and CSV sinks,
// with the files of MAX_RECORDS_PER_FILE rows the engine asks for (5,000 by default, the seed's
// value; 100,000 for large files). One thread, as one of the engine's encoder workers.
// These replace the timed unit test the sink stage had: a speed target belongs here, not in
// a test that fails on a busy machine.
#include <benchmark/benchmark.h>

#include <algorithm>

#include "events.h"
#include "sink/encoders.h"

namespace kpipe::bench {
namespace {

constexpr size_t kRows = 500'000;

const std::shared_ptr<arrow::RecordBatch>& rows() {
  static const auto batch = event_batch(kRows);
  return batch;
}

// Encodes the whole batch as files of `file_rows` rows per iteration.
void encode_all(benchmark::State& state, const FileEncoder& encoder) {
  const auto file_rows = static_cast<int64_t>(state.range(0));
  const arrow::RecordBatch& batch = *rows();
  int64_t bytes = 0;
  for (auto _ : state) {
    bytes = 0;
    for (int64_t offset = 0; offset < batch.num_rows(); offset += file_rows) {
      auto out = encoder.encode(batch, offset, std::min(file_rows, batch.num_rows() - offset));
      if (!out.ok()) {
        state.SkipWithError(out.status().message().c_str());
        return;
      }
      bytes += (*out)->size();
    }
  }
  state.SetItemsProcessed(state.iterations() * batch.num_rows());
  state.SetBytesProcessed(state.iterations() * bytes);
  state.counters["bytes_per_row"] = static_cast<double>(bytes) / static_cast<double>(batch.num_rows());
  state.counters["time_per_row"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch.num_rows()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert, benchmark::Counter::kIs1000);
}

void BM_ParquetEncodeRow(benchmark::State& state, Compression compression) {
  encode_all(state, *make_parquet_encoder(compression));
}
BENCHMARK_CAPTURE(BM_ParquetEncodeRow, snappy, Compression::kSnappy)
    ->ArgName("rows_per_file")->Arg(5'000)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ParquetEncodeRow, zstd, Compression::kZstd)
    ->ArgName("rows_per_file")->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ParquetEncodeRow, none, Compression::kNone)
    ->ArgName("rows_per_file")->Arg(100'000)->Unit(benchmark::kMillisecond);

void BM_CsvEncodeRow(benchmark::State& state) { encode_all(state, *make_csv_encoder()); }
BENCHMARK(BM_CsvEncodeRow)->ArgName("rows_per_file")->Arg(5'000)->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kpipe::bench
