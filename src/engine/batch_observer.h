// The last step of a batch: telling people. Observers see every committed batch — the progress
// line in the log and JobStatus (status page, /api, /metrics), and the console sink, which prints
// the batch's first rows as Spark's console sink does. They cannot fail a batch: it is committed.
#pragma once

#include <arrow/api.h>

#include <memory>
#include <vector>

#include "common/record.h"
#include "engine/job_status.h"

namespace kpipe {

struct CommittedBatch {
  const BatchProgress& progress;
  // The batch's good rows, one chunk per Kafka partition in range order (for the console).
  const std::vector<std::shared_ptr<arrow::RecordBatch>>& rows;
  int64_t bad_rows = 0;
  int64_t total_ms = 0;
  const BadRecord* first_bad = nullptr;  // the batch's first bad record, null when none
};

class BatchObserver {
 public:
  virtual ~BatchObserver() = default;
  virtual void on_started(int64_t /*batch_id*/, bool /*replay*/) {}
  virtual void on_committed(const CommittedBatch& batch) = 0;
};

// JobStatus::add_batch and one JSON progress line in the log (Spark's StreamingQueryProgress).
std::unique_ptr<BatchObserver> make_status_observer(std::shared_ptr<JobStatus> status, std::string query_id);
// Spark's console sink: a table of the batch's first 20 rows on stdout, then one summary line.
std::unique_ptr<BatchObserver> make_console_observer();
// A warning when 1% or more of a batch's records did not fit the schema: the share, where they
// went (DEAD_LETTER_PATH, or skipped) and the first one's offset and reason. The message is in the
// README's Troubleshooting table.
std::unique_ptr<BatchObserver> make_bad_record_observer(std::string dead_letter_path);
// The warning's text, or "" below the threshold.
std::string bad_record_warning(const CommittedBatch& batch, const std::string& dead_letter_path);

}  // namespace kpipe
