// Kafka payloads (JSON objects) → one Arrow record batch per micro-batch, plus the records that
// did not fit the schema.
//
// Lifecycle, per micro-batch:
//   (1) add(record) for every Kafka message of the batch, in offset order. Each call either
//       appends one complete row (and its dt) or one BadRecord; never part of a row.
//   (2) finish() builds the batch and resets the decoder; go back to (1) for the next batch.
// good_rows()/bad_rows()/buffered_bytes() may be read at any time. One decoder per thread: it
// owns a simdjson parser and Arrow builders, neither of which is thread-safe.
//
// Semantics (like Spark's from_json, but strict where Spark silently nulls: bad data is never
// dropped, it becomes a BadRecord with a reason that names the field):
//   - The payload must be one JSON object; arrays, scalars, an empty message, malformed JSON,
//     trailing bytes after the object and invalid UTF-8 are bad records. Malformed JSON inside
//     ignored fields counts too: the whole message is validated, not only the schema's fields.
//   - Field names match exactly (case-sensitive), after JSON unescaping. Extra fields are ignored.
//     A schema field that appears twice makes the record bad ("field 'x' appears more than
//     once"): picking either value would silently drop the other.
//   - A missing field or JSON null is a null value, unless the column is NOT NULL (bad record).
//     The partition column missing or null is always a bad record.
//   - STRING: a JSON string; a JSON number or true/false becomes its JSON text as written (as
//     Spark does, so a producer that sends ids as numbers loses nothing); objects and arrays are
//     bad. Values longer than max_string_bytes (after unescaping) are bad.
//   - BIGINT/INT: JSON integers in range only (no 1.0, 1e3, strings). INT outside 32 bits is bad.
//   - DOUBLE/FLOAT: any JSON number; FLOAT beyond float range is bad (no silent infinity).
//   - BOOLEAN: true/false only.
//   - TIMESTAMP: an ISO-8601 string (see timestamp.h) or an integer of epoch MILLISECONDS
//     (Spark reads integers as seconds; our producers send milliseconds), years 0001..9999.
//   - DATE: a "YYYY-MM-DD" string.
//
// Lifetimes: add() copies what it keeps (the row's values; for a bad record, the payload), so
// the RawRecord's bytes need only live for the duration of the call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <arrow/memory_pool.h>
#include <arrow/record_batch.h>

#include "common/record.h"
#include "common/status.h"
#include "decode/schema.h"

namespace kpipe {

struct DecodeLimits {
  size_t max_record_bytes = 1 << 20;  // MAX_RECORD_BYTES: a longer payload is a bad record
  size_t max_string_bytes = 65536;    // MAX_STRING_BYTES: a longer STRING value is a bad record
};

struct DecodedBatch {
  std::shared_ptr<arrow::RecordBatch> rows;  // good rows, in add() order; schema = Schema::arrow_schema
  std::vector<int32_t> dt_days;              // per good row: UTC date (days since 1970-01-01) of the partition column
  int64_t max_event_us = 0;                  // largest event time (µs; a DATE at its midnight) of the good rows
  std::vector<BadRecord> bad;                // in add() order
};

class RecordDecoder {
 public:
  // partition_column: index into schema.columns of the TIMESTAMP or DATE column whose UTC date is
  // dt (see find_partition_column), or kPartitionFromKafkaTimestamp (kafka_columns.h). An index out
  // of range or of another type is a programming error and throws std::invalid_argument.
  // Kafka columns (KAFKA_COLUMNS, kafka_columns.h) come after the payload's and are filled from
  // the RawRecord, once the JSON part of the row is good.
  RecordDecoder(Schema schema, int partition_column, DecodeLimits limits,
                arrow::MemoryPool* pool = arrow::default_memory_pool());
  ~RecordDecoder();
  RecordDecoder(RecordDecoder&&) noexcept;
  RecordDecoder& operator=(RecordDecoder&&) noexcept;
  RecordDecoder(const RecordDecoder&) = delete;
  RecordDecoder& operator=(const RecordDecoder&) = delete;

  // Decodes one payload into a row or a BadRecord. Never throws or crashes, whatever the bytes.
  // No heap allocation per good record once buffers have grown to the batch's size.
  void add(const RawRecord& record);

  size_t good_rows() const;
  size_t bad_rows() const;
  // Approximate bytes held by the column builders. An Arrow utf8 column holds at most 2 GiB of
  // string data per batch: a caller decoding huge backlogs in one batch should finish() and start
  // a new chunk well before that (say at 1 GiB).
  size_t buffered_bytes() const;

  // Builds the batch and resets the decoder for the next batch, keeping buffer sizes as a
  // capacity hint. Fails (Status::fatal) only if a builder failed during add() — out of memory,
  // or a column over Arrow's 2 GiB limit — in which case the whole batch is discarded, never
  // half returned, and the decoder is reset.
  Result<DecodedBatch> finish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kpipe
