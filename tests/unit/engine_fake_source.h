// An in-memory RecordSource for engine tests: partitions of payloads, offsets from 0. Records
// can be appended between batches, as a producer would; a read can be made to fail.
#pragma once

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
              const std::atomic<bool>&) override {
    std::lock_guard lock(mu_);
    ++reads_;
    if (fail_reads_ > 0) {
      --fail_reads_;
      return read_error_;
    }
    for (const auto& r : ranges) {
      const auto& records = log_.at(r.partition);
      if (r.end > static_cast<int64_t>(records.size())) return Status::retriable("range past the end");
      for (int64_t o = r.start; o < r.end; ++o) {
        RawRecord rec;
        rec.payload = records[static_cast<size_t>(o)];
        rec.partition = r.partition;
        rec.offset = o;
        rec.timestamp_ms = 1762430400000 + o;
        on_record(rec);
      }
    }
    return Status::success();
  }
  std::string last_client_error() const override { return ""; }

 private:
  mutable std::mutex mu_;
  std::map<int32_t, std::vector<std::string>> log_;
  int fail_reads_ = 0;
  int reads_ = 0;
  Status read_error_;
};

}  // namespace kpipe
