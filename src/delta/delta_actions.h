// The actions of a Delta Lake log (delta-io/delta PROTOCOL.md, "Actions") that kpipe writes and
// reads, as plain values. A commit `_delta_log/<version, 20 digits>.json` is one action per line;
// a checkpoint `<version>.checkpoint.parquet` holds the table state at a version, one action per
// row. kpipe writes reader version 1 / writer version 2 tables: append-only, no deletion vectors,
// no column mapping.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace kpipe {

struct DeltaProtocol {
  int32_t min_reader_version = 1;
  int32_t min_writer_version = 2;
  std::vector<std::string> reader_features;  // only with reader version 3
  std::vector<std::string> writer_features;  // only with writer version 7
  bool operator==(const DeltaProtocol&) const = default;
};

struct DeltaMetadata {
  std::string id;  // the table's id (a UUID)
  std::string name;
  std::string description;
  std::string format_provider = "parquet";
  std::string schema_string;  // Delta's JSON schema: {"type":"struct","fields":[...]}
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  std::optional<int64_t> created_time;  // ms since the epoch
  bool operator==(const DeltaMetadata&) const = default;
};

struct DeltaAdd {
  std::string path;  // relative to the table root, URI-encoded (RFC 2396)
  std::map<std::string, std::string> partition_values;
  int64_t size = 0;
  int64_t modification_time = 0;  // ms since the epoch
  bool data_change = true;
  std::string stats;  // JSON: numRecords, minValues, maxValues, nullCount; empty = none
  bool operator==(const DeltaAdd&) const = default;
};

struct DeltaRemove {
  std::string path;
  std::optional<int64_t> deletion_timestamp;
  bool data_change = true;
  bool operator==(const DeltaRemove&) const = default;
};

struct DeltaTxn {
  std::string app_id;
  int64_t version = 0;
  std::optional<int64_t> last_updated;  // ms since the epoch
  bool operator==(const DeltaTxn&) const = default;
};

// The table as of one version: what a checkpoint stores, what a reader reconstructs.
struct DeltaSnapshot {
  int64_t version = -1;  // -1: no table yet
  DeltaProtocol protocol;
  DeltaMetadata metadata;
  std::map<std::string, DeltaTxn> txns;   // by app_id
  std::map<std::string, DeltaAdd> files;  // live files, by path
};

}  // namespace kpipe
