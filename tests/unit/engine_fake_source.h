// An in-memory RecordSource for engine tests: partitions of payloads, offsets from 0. Records
// can be appended between batches, as a producer would; a read can be made to fail.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kafka/record_source.h"

namespace kpipe {

class FakeSource final : public RecordSource {
 public:
  explicit FakeSource(int partitions) {
    for (int p = 0; p < partitions; ++p) log_[p];
  }
  void append(int32_t partition, std::string payload) {
    std::lock_guard lock(mu_);
    log_[partition].push_back(std::move(payload));
  }
  // What a record carries besides its payload (KAFKA_COLUMNS); by default no key, no headers and
  // timestamp_of(offset) as CreateTime.
  struct Meta {
    std::optional<std::string> key;  // nullopt: a null key
    std::string headers;             // PackedHeaders form
    std::optional<int64_t> timestamp_ms;
    KafkaTimestampType timestamp_type = KafkaTimestampType::kCreateTime;
  };
  void append(int32_t partition, std::string payload, Meta meta) {
    std::lock_guard lock(mu_);
    meta_[partition][static_cast<int64_t>(log_[partition].size())] = std::move(meta);
    log_[partition].push_back(std::move(payload));
  }
  // The next `n` reads fail with `status`.
  void fail_reads(int n, Status status) {
    std::lock_guard lock(mu_);
    fail_reads_ = n;
    read_error_ = std::move(status);
  }
  int reads() const {
    std::lock_guard lock(mu_);
    return reads_;
  }
  // The waits the job announced through idle(), in order.
  std::vector<std::chrono::milliseconds> idles() const {
    std::lock_guard lock(mu_);
    return idles_;
  }
  void idle(std::chrono::milliseconds wait) override {
    std::lock_guard lock(mu_);
    idles_.push_back(wait);
  }

  Result<std::vector<int32_t>> partitions() override {
    std::lock_guard lock(mu_);
    std::vector<int32_t> ids;
    for (const auto& [p, records] : log_) ids.push_back(p);
    return ids;
  }
  Result<Watermarks> watermarks(int32_t partition) override {
    std::lock_guard lock(mu_);
    auto it = log_.find(partition);
    if (it == log_.end()) return Status::retriable("no partition " + std::to_string(partition));
    return Watermarks{0, static_cast<int64_t>(it->second.size())};
  }
  Status read(const std::vector<PartitionRange>& ranges, const std::function<void(const RawRecord&)>& on_record,
              const std::atomic<bool>& stop) override {
    std::vector<PartitionRange> all = ranges;
    return read_upto(all, 0, on_record, stop);
  }
  // Partition after partition; once the values delivered reach max_bytes, every range not yet
  // done ends where it stands (the one in progress, and the later ones empty).
  Status read_upto(std::vector<PartitionRange>& ranges, int64_t max_bytes,
                   const std::function<void(const RawRecord&)>& on_record, const std::atomic<bool>&) override {
    std::lock_guard lock(mu_);
    ++reads_;
    last_max_bytes_ = max_bytes;
    if (fail_reads_ > 0) {
      --fail_reads_;
      return read_error_;
    }
    int64_t used = 0;
    bool full = false;
    for (auto& r : ranges) {
      const auto& records = log_.at(r.partition);
      if (r.end > static_cast<int64_t>(records.size())) return Status::retriable("range past the end");
      for (int64_t o = r.start; o < r.end; ++o) {
        if (full || (max_bytes > 0 && used >= max_bytes)) {
          full = true;
          r.end = o;
          break;
        }
        used += static_cast<int64_t>(records[static_cast<size_t>(o)].size());
        RawRecord rec;
        rec.payload = records[static_cast<size_t>(o)];
        rec.partition = r.partition;
        rec.offset = o;
        rec.timestamp_ms = timestamp_of(o);
        rec.timestamp_type = KafkaTimestampType::kCreateTime;
        rec.topic = topic_;
        if (auto m = meta_[r.partition].find(o); m != meta_[r.partition].end()) {
          rec.has_key = m->second.key.has_value();
          if (m->second.key) rec.key = *m->second.key;
          rec.headers = m->second.headers;
          rec.timestamp_ms = m->second.timestamp_ms.value_or(rec.timestamp_ms);
          rec.timestamp_type = m->second.timestamp_type;
        }
        on_record(rec);
      }
    }
    return Status::success();
  }
  std::string last_client_error() const override { return ""; }
  // The byte limit the last read was given (0: none).
  int64_t last_max_bytes() const {
    std::lock_guard lock(mu_);
    return last_max_bytes_;
  }

  // Kafka timestamp of the record at `offset` (any partition).
  static int64_t timestamp_of(int64_t offset) { return 1762430400000 + offset; }
  // Fetching: cached_high_watermarks answers for every partition, as a consumer that fetches
  // them knows their high watermarks from the fetch responses.
  void set_fetching(bool fetching) {
    std::lock_guard lock(mu_);
    fetching_ = fetching;
  }
  // Holding: held_timestamp_ms answers, as when the records were fetched ahead.
  void set_holding(bool holding) {
    std::lock_guard lock(mu_);
    holding_ = holding;
  }
  // The next `n` high-watermark requests fail (retriable).
  void fail_queries(int n) {
    std::lock_guard lock(mu_);
    fail_queries_ = n;
  }
  int high_watermark_queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }
  std::chrono::milliseconds last_query_timeout() const {
    std::lock_guard lock(mu_);
    return last_timeout_;
  }
  std::map<int32_t, int64_t> cached_high_watermarks(const std::vector<int32_t>& partitions) override {
    std::lock_guard lock(mu_);
    std::map<int32_t, int64_t> high;
    if (!fetching_) return high;
    for (int32_t p : partitions) high[p] = static_cast<int64_t>(log_.at(p).size());
    return high;
  }
  Result<std::map<int32_t, int64_t>> high_watermarks(const std::vector<int32_t>& partitions,
                                                     std::chrono::milliseconds timeout) override {
    std::lock_guard lock(mu_);
    ++queries_;
    last_timeout_ = timeout;
    if (fail_queries_ > 0) {
      --fail_queries_;
      return Status::retriable("injected: ListOffsets timed out");
    }
    std::map<int32_t, int64_t> high;
    for (int32_t p : partitions) high[p] = static_cast<int64_t>(log_.at(p).size());
    return high;
  }
  std::optional<int64_t> held_timestamp_ms(int32_t partition, int64_t offset) override {
    std::lock_guard lock(mu_);
    if (!holding_ || offset >= static_cast<int64_t>(log_.at(partition).size())) return std::nullopt;
    return timestamp_of(offset);
  }

 private:
  mutable std::mutex mu_;
  std::map<int32_t, std::vector<std::string>> log_;
  std::map<int32_t, std::map<int64_t, Meta>> meta_;  // partition → offset → what append(…, meta) gave
  std::string topic_ = "events";
  int fail_reads_ = 0;
  int reads_ = 0;
  std::vector<std::chrono::milliseconds> idles_;
  int64_t last_max_bytes_ = 0;
  bool fetching_ = false;
  bool holding_ = true;
  int fail_queries_ = 0;
  int queries_ = 0;
  std::chrono::milliseconds last_timeout_{0};
  Status read_error_;
};

// Lets each job own a source while the test keeps the topic: a restart sees the same records.
class BorrowedSource final : public RecordSource {
 public:
  explicit BorrowedSource(FakeSource& s) : s_(s) {}
  Result<std::vector<int32_t>> partitions() override { return s_.partitions(); }
  Result<Watermarks> watermarks(int32_t p) override { return s_.watermarks(p); }
  Status read(const std::vector<PartitionRange>& r, const std::function<void(const RawRecord&)>& cb,
              const std::atomic<bool>& stop) override {
    return s_.read(r, cb, stop);
  }
  Status read_upto(std::vector<PartitionRange>& r, int64_t max_bytes, const std::function<void(const RawRecord&)>& cb,
                   const std::atomic<bool>& stop) override {
    return s_.read_upto(r, max_bytes, cb, stop);
  }
  std::string last_client_error() const override { return ""; }

 private:
  FakeSource& s_;
};

}  // namespace kpipe
