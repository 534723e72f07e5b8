// Delta Lake checkpoints (delta-io/delta PROTOCOL.md, "Checkpoints", "Checkpoint Schema", "Last
// Checkpoint File Schema"): the table state at one version as Parquet, one action per row, so a
// reader need not replay every JSON commit.
//
// kpipe writes classic single-file checkpoints `_delta_log/<version, 20 digits>.checkpoint.parquet`
// and reads classic checkpoints, single-file or multi-part
// (`<version>.checkpoint.<part, 10 digits>.<parts, 10 digits>.parquet`). V2 checkpoints (a
// checkpointMetadata row, sidecar files) are refused with kInvalidArgument.
//
// Writing a checkpoint, in order:
//   (1) encode_checkpoint(snapshot) and write it under its final name (create-if-absent);
//   (2) encode_last_checkpoint(...) and replace `_delta_log/_last_checkpoint`.
// A reader that finds (1) without (2) still finds the checkpoint by listing, so (2) is a hint.
#pragma once

#include <arrow/buffer.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "delta/delta_actions.h"

namespace kpipe {

// One Parquet file: a protocol row, a metaData row, a row per txn and per live file. The schema
// has the protocol's columns txn, add, remove, metaData, protocol (remove is all null: kpipe
// only appends). readerFeatures / writerFeatures are null unless the reader version is 3 / the
// writer version is 7.
[[nodiscard]] Result<std::shared_ptr<arrow::Buffer>> encode_checkpoint(const DeltaSnapshot& s);

// Reads the parts of the checkpoint of `version` (one buffer, or all parts of a multi-part
// checkpoint in any order) into the snapshot. Columns are found by name; unknown columns
// (stats_parsed, commitInfo, domainMetadata, cdc, ...) are ignored and absent optional fields
// take their defaults. remove rows are tombstones, not live files.
[[nodiscard]] Result<DeltaSnapshot> decode_checkpoint(const std::vector<std::shared_ptr<arrow::Buffer>>& parts,
                                                      int64_t version);

// `_delta_log/_last_checkpoint`: where the newest checkpoint is.
struct LastCheckpoint {
  int64_t version = -1;
  int64_t size = 0;              // actions (rows) in the checkpoint
  std::optional<int64_t> parts;  // set for a multi-part checkpoint
  std::optional<int64_t> size_in_bytes;
  std::optional<int64_t> num_of_add_files;
  bool operator==(const LastCheckpoint&) const = default;
};

std::string encode_last_checkpoint(int64_t version, int64_t size, int64_t size_in_bytes, int64_t num_add_files);
[[nodiscard]] Result<LastCheckpoint> parse_last_checkpoint(std::string_view json);

}  // namespace kpipe
