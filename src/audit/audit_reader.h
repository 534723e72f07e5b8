// The I/O half of `kpipe verify`: everything audit() looks at, read through the FileSystem seam
// (local disk or S3 alike) and, for the watermarks, from Kafka. Nothing here writes: verify runs
// beside a job and never takes the checkpoint's lock.
//
// Order, so that a job running meanwhile yields no false finding (see audit.h):
//   (1) the checkpoint logs, all retained entries  → `settled` = their newest commit
//   (2) every file below the sinks' roots (and their dt= folders)
//   (3) the Delta log of OUTPUT_PATH, when the Parquet sink writes a Delta table
//   (4) the checkpoint logs again, merged with (1)
//   (5) Kafka's watermarks, with a deadline
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "audit/audit.h"
#include "common/file_system.h"
#include "config/stream_options.h"

namespace kpipe {

struct AuditReadOptions {
  bool with_kafka = true;
  std::chrono::milliseconds kafka_timeout{10000};  // each metadata and watermark request
};

// Fails (the caller exits 2) when CHECKPOINT_PATH holds no checkpoint, its metadata is unreadable
// or it belongs to another topic. A damaged entry or Delta log is a finding, not a failure.
// An unreachable broker is AuditInput::kafka_error, a warning.
Result<AuditInput> read_audit_input(std::shared_ptr<FileSystem> fs, const StreamOptions& options,
                                    const AuditReadOptions& read);

// Rows of one output file from its bytes: a Parquet footer's row count, CSV records, or JSON lines.
Result<int64_t> count_file_rows(FileSystem& fs, const std::string& sink, const std::string& path);

}  // namespace kpipe
