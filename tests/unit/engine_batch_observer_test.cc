// The bad-record warning of README's Troubleshooting table: when it appears and what it says.
#include <gtest/gtest.h>

#include "engine/batch_observer.h"

namespace kpipe {
namespace {

struct Batch {
  BatchProgress progress;
  std::vector<std::shared_ptr<arrow::RecordBatch>> rows;
  BadRecord first{1, 17, -1, "field 'value': expected DOUBLE, got string", "{}"};

  CommittedBatch committed(int64_t input, int64_t bad, bool dlq = true) {
    progress.batch_id = 3;
    progress.num_input_rows = input;
    progress.dead_lettered = dlq ? bad : 0;
    progress.skipped_bad = dlq ? 0 : bad;
    return CommittedBatch{progress, rows, bad, 5, bad > 0 ? &first : nullptr};
  }
};

TEST(BadRecordWarning, QuietBelowOnePercentAndWithoutBadRecords) {
  Batch b;
  EXPECT_EQ(bad_record_warning(b.committed(1000, 0), "dl"), "");
  EXPECT_EQ(bad_record_warning(b.committed(1000, 9), "dl"), "");
  EXPECT_EQ(bad_record_warning(b.committed(0, 0), "dl"), "");
}

TEST(BadRecordWarning, NamesTheShareTheDeadLetterPathAndTheFirstRecord) {
  Batch b;
  EXPECT_EQ(bad_record_warning(b.committed(1000, 10), "data/output/dead-letter"),
            "batch 3: 10 of 1000 records (1.0%) did not fit SCHEMA and went to the dead-letter files under "
            "DEAD_LETTER_PATH=data/output/dead-letter; the first, partition 1 offset 17: field 'value': expected "
            "DOUBLE, got string. Check that the producer's events match SCHEMA");
}

TEST(BadRecordWarning, SaysSkippedWithOnBadRecordSkip) {
  Batch b;
  const std::string text = bad_record_warning(b.committed(4, 4, false), "dl");
  EXPECT_NE(text.find("4 of 4 records (100.0%) did not fit SCHEMA and were skipped (ON_BAD_RECORD=skip)"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace kpipe
