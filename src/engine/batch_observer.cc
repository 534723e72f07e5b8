#include "engine/batch_observer.h"

#include <algorithm>
#include <cstdio>

#include "common/log.h"
#include "engine/file_sink.h"
#include "sink/encoders.h"

namespace kpipe {
namespace {

class StatusObserver final : public BatchObserver {
 public:
  StatusObserver(std::shared_ptr<JobStatus> status, std::string query_id)
      : status_(std::move(status)), query_id_(std::move(query_id)) {}
  void on_started(int64_t batch_id, bool) override { status_->set_current_batch(batch_id); }
  void on_committed(const CommittedBatch& b) override {
    status_->add_batch(b.progress);
    log_raw(progress_json(b.progress, query_id_));
  }

 private:
  std::shared_ptr<JobStatus> status_;
  std::string query_id_;
};

class ConsoleObserver final : public BatchObserver {
 public:
  void on_committed(const CommittedBatch& b) override {
    const BatchProgress& p = b.progress;
    std::string text = "-------------------------------------------\nBatch: " + std::to_string(p.batch_id) +
                       "\n-------------------------------------------\n(no rows)\n";
    int64_t good = 0;
    for (const auto& r : b.rows) good += r->num_rows();
    if (good > 0) {
      // The first rows in range order, and one more, so the table says whether it shows them all.
      DayChunks firsts;
      for (const auto& r : b.rows) {
        if (r->num_rows() > 0) firsts.push_back(r);
      }
      auto head = view_rows(firsts, 0, std::min<int64_t>(good, 21));
      if (head.ok()) {
        text = format_console_table(p.batch_id, *head->batch->Slice(head->offset, head->length), 20);
      } else {
        log_warn("console", "batch " + std::to_string(p.batch_id) + ": " + head.status().message());
      }
    }
    char line[256];
    std::snprintf(line, sizeof line,
                  "Batch %lld%s: %lld rows (%lld bad), input %.1f rows/s, processed %.1f rows/s, %lld ms\n\n",
                  static_cast<long long>(p.batch_id), p.replay ? " (re-run)" : "",
                  static_cast<long long>(p.num_input_rows), static_cast<long long>(b.bad_rows), p.input_rows_per_second,
                  p.processed_rows_per_second, static_cast<long long>(b.total_ms));
    text += line;
    write_stdout(text);  // around a progress bar, when stdout and stderr are one terminal
  }
};

class BadRecordObserver final : public BatchObserver {
 public:
  explicit BadRecordObserver(std::string dead_letter_path) : dead_letter_path_(std::move(dead_letter_path)) {}
  void on_committed(const CommittedBatch& b) override {
    const std::string text = bad_record_warning(b, dead_letter_path_);
    if (!text.empty()) log_warn("stream", text);
  }

 private:
  std::string dead_letter_path_;
};

}  // namespace

std::string bad_record_warning(const CommittedBatch& b, const std::string& dead_letter_path) {
  const BatchProgress& p = b.progress;
  if (b.bad_rows <= 0 || b.bad_rows * 100 < p.num_input_rows) return "";
  char share[96];
  std::snprintf(
      share, sizeof share, "batch %lld: %lld of %lld records (%.1f%%) did not fit SCHEMA",
      static_cast<long long>(p.batch_id), static_cast<long long>(b.bad_rows), static_cast<long long>(p.num_input_rows),
      p.num_input_rows > 0 ? 100.0 * static_cast<double>(b.bad_rows) / static_cast<double>(p.num_input_rows) : 100.0);
  std::string text = share;
  text += p.dead_lettered > 0 ? " and went to the dead-letter files under DEAD_LETTER_PATH=" + dead_letter_path
                              : " and were skipped (ON_BAD_RECORD=skip)";
  if (b.first_bad) {
    text += "; the first, partition " + std::to_string(b.first_bad->partition) + " offset " +
            std::to_string(b.first_bad->offset) + ": " + b.first_bad->reason;
  }
  text += ". Check that the producer's events match SCHEMA";
  return text;
}

std::unique_ptr<BatchObserver> make_bad_record_observer(std::string dead_letter_path) {
  return std::make_unique<BadRecordObserver>(std::move(dead_letter_path));
}

std::unique_ptr<BatchObserver> make_status_observer(std::shared_ptr<JobStatus> status, std::string query_id) {
  return std::make_unique<StatusObserver>(std::move(status), std::move(query_id));
}

std::unique_ptr<BatchObserver> make_console_observer() { return std::make_unique<ConsoleObserver>(); }

}  // namespace kpipe
