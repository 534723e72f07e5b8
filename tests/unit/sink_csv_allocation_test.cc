// The CSV encoder's promise for nested, decimal and binary columns: their text is appended into
// one buffer per column and one builder, never a heap allocation per row (Arrow's own decimal
// cast made one per value longer than 15 characters). Counts global operator new
// (std::string, vectors, shared_ptr); Arrow's builders grow by doubling in its memory pool.
#include <atomic>
#include <cstdlib>
#include <new>

#include <arrow/api.h>
#include <arrow/array/concatenate.h>
#include <gtest/gtest.h>

#include "allocation_counter.h"
#include "sink/encoders.h"
#include "sink_test_util.h"

namespace kpipe {
namespace {

// `copies` times the rows of `batch`, in one contiguous batch.
std::shared_ptr<arrow::RecordBatch> repeat(const std::shared_ptr<arrow::RecordBatch>& batch, int copies) {
  std::vector<std::shared_ptr<arrow::Array>> columns;
  for (int c = 0; c < batch->num_columns(); ++c) {
    arrow::ArrayVector parts(static_cast<size_t>(copies), batch->column(c));
    columns.push_back(arrow::Concatenate(parts).ValueOrDie());
  }
  return arrow::RecordBatch::Make(batch->schema(), batch->num_rows() * copies, columns);
}

long news_to_encode(const FileEncoder& encoder, const arrow::RecordBatch& batch) {
  const long before = g_news.load();
  auto bytes = encoder.encode(batch, 0, batch.num_rows());
  EXPECT_TRUE(bytes.ok()) << bytes.status().message();
  return g_news.load() - before;
}

TEST(CsvEncoderAllocation, NestedDecimalAndBinaryColumnsAllocateNothingPerRow) {
  auto encoder = make_csv_encoder();
  auto rows = testing::nested_batch();
  auto small = repeat(rows, 250);          // 1,000 rows
  auto large = repeat(rows, 2000);         // 8,000 rows, still one Arrow chunk
  (void)news_to_encode(*encoder, *small);  // Arrow's one-time set-up (kernels, registries)
  const long for_small = news_to_encode(*encoder, *small);
  const long for_large = news_to_encode(*encoder, *large);
  std::printf("operator new calls: %ld for 1,000 rows, %ld for 8,000 rows\n", for_small, for_large);
  // One allocation per row would add 7,000; buffers that double add a handful.
  EXPECT_LT(for_large - for_small, 100);
}

}  // namespace
}  // namespace kpipe
