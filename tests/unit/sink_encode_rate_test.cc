// Encode rates on one core for the seed's 4-column event table (event_id, ts, value, source):
// what one encoder thread sustains, printed for the README's bench section. The floors are a
// tenth of the targets (Parquet 2M rows/s, CSV 1M rows/s), so only a pathology fails on a busy
// machine; sanitizer and debug builds only print.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
constexpr bool kOptimised = true;
#else
constexpr bool kOptimised = false;
#endif

struct Rate {
  double rows_per_second;
  double bytes_per_row;
};

// Encodes `total` rows as files of `file_rows` (the engine's unit of work), best of 3 rounds.
Rate measure(const FileEncoder& encoder, const arrow::RecordBatch& batch, int64_t file_rows) {
  double best = 0;
  int64_t bytes = 0;
  for (int round = 0; round < 3; ++round) {
    bytes = 0;
    auto start = std::chrono::steady_clock::now();
    for (int64_t offset = 0; offset < batch.num_rows(); offset += file_rows) {
      auto out = encoder.encode(batch, offset, std::min(file_rows, batch.num_rows() - offset));
      EXPECT_TRUE(out.ok()) << out.status().message();
      if (out.ok()) bytes += (*out)->size();
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::max(best, static_cast<double>(batch.num_rows()) / seconds);
  }
  return {best, static_cast<double>(bytes) / static_cast<double>(batch.num_rows())};
}

void report_and_check(const char* what, const FileEncoder& encoder, int64_t file_rows, double target) {
  static const auto batch = testing::event_batch(500'000);
  Rate r = measure(encoder, *batch, file_rows);
  std::printf("[ RATE     ] %-22s %7lld rows/file: %6.2f M rows/s, %5.1f bytes/row\n", what,
              static_cast<long long>(file_rows), r.rows_per_second / 1e6, r.bytes_per_row);
  if (kOptimised) {
    EXPECT_GE(r.rows_per_second, target / 10) << what;
  }
}

TEST(SinkEncodeRate, ParquetSnappy) {
  auto encoder = make_parquet_encoder(Compression::kSnappy);
  report_and_check("parquet snappy", *encoder, 5'000, 2e6);
  report_and_check("parquet snappy", *encoder, 100'000, 2e6);
}

TEST(SinkEncodeRate, ParquetZstdAndNone) {
  report_and_check("parquet zstd", *make_parquet_encoder(Compression::kZstd), 100'000, 2e6);
  report_and_check("parquet none", *make_parquet_encoder(Compression::kNone), 100'000, 2e6);
}

TEST(SinkEncodeRate, Csv) {
  auto encoder = make_csv_encoder();
  report_and_check("csv", *encoder, 5'000, 1e6);
  report_and_check("csv", *encoder, 100'000, 1e6);
}

}  // namespace
}  // namespace kpipe
