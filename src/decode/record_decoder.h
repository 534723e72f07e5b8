// Kafka payloads (JSON objects) → one Arrow record batch per micro-batch, plus the records that
// did not fit the schema.
//
// Lifecycle, per micro-batch:
//   (1) add(record) for every Kafka message of the batch, in offset order. Each call either
//       appends one complete row (and its dt) or one BadRecord; never part of a row.
//   (2) finish() builds the batch and resets the decoder; go back to (1) for the next batch.
// good_rows()/bad_rows()/buffered_bytes() may be read at any time. One decoder per thread: it
// owns a simdjson parser and Arrow builders, neither of which is thread-safe.
// Inside, add() is two steps: RecordParser (record_parser.h) reads the payload into a tape of
// values laid out along the schema tree, touching no builder; only if the whole record is good
// does RowAppender (row_appender.h) walk the tape into the builders. That is what makes a row
// all-or-nothing at any depth.
//
// Semantics (like Spark's from_json, but strict where Spark silently nulls: bad data is never
// dropped, it becomes a BadRecord with a reason that names the field by its path):
//   - The payload must be one JSON object; arrays, scalars, an empty message, malformed JSON,
//     trailing bytes after the object and invalid UTF-8 are bad records. Malformed JSON inside
//     ignored fields counts too: the whole message is validated, not only the schema's fields.
//   - At every depth (the record and every STRUCT in it): field names match exactly
//     (case-sensitive), after JSON unescaping; unknown fields are ignored (but validated); a
//     field that appears twice in one object makes the record bad ("field 'user.id' appears more
//     than once"): picking either value would silently drop the other (Spark keeps the last).
//   - A missing field or JSON null is a null value, unless the field is NOT NULL (bad record).
//     A NOT NULL field is only required inside a present parent: a null STRUCT is just null.
//     The partition column missing or null is always a bad record.
//   - STRUCT: a JSON object. ARRAY: a JSON array; null elements are null (bad if the element type
//     is NOT NULL); [] is an empty list. MAP<STRING, T>: a JSON object whose keys (unescaped, any
//     text, "" included) are the map's keys in the order written; {} is an empty map. A key twice
//     in one map is a bad record, as a field twice is; Spark keeps the last value, kpipe does not
//     drop one silently. Keys count against max_string_bytes like strings.
//   - STRING: a JSON string; a JSON number or true/false becomes its JSON text as written (as
//     Spark does, so a producer that sends ids as numbers loses nothing); objects and arrays are
//     bad. Values longer than max_string_bytes (after unescaping) are bad.
//   - BIGINT/INT/SMALLINT/TINYINT: JSON integers in range only (no 1.0, 1e3, strings). Out of the
//     type's range is bad (Spark wraps a TINYINT 128 to -128).
//   - DECIMAL(p, s): a JSON number as written or a JSON string ([+-]digits[.digits][e[+-]digits],
//     commas ignored as Spark does for "1,000.5"), read exactly into a 128-bit integer, never
//     through a double: "12.30" is 1230 at scale 2, "12.300" too (trailing zeros lose nothing).
//     Nonzero digits past the scale are precision loss and make the record bad ("12.345" in
//     DECIMAL(10,2): "has more digits after the point than DECIMAL(10,2) keeps"), where Spark's
//     from_json rounds HALF_UP to 12.35. A value with more than p - s integer digits does not
//     fit: Spark gives null, kpipe a bad record ("does not fit DECIMAL(10,2)"). Text that is not
//     a number (" 12", "NaN", "0x10", "") is bad.
//   - DOUBLE/FLOAT: any JSON number; FLOAT beyond float range is bad (no silent infinity).
//   - BOOLEAN: true/false only.
//   - BINARY: a JSON string of standard base64 with '=' padding, as Spark (Jackson) reads it:
//     whitespace between 4-character groups is skipped, anything else is a bad record.
//   - TIMESTAMP: an ISO-8601 string (see timestamp.h) or an integer of epoch MILLISECONDS
//     (Spark reads integers as seconds; our producers send milliseconds), years 0001..9999.
//   - TIMESTAMP_NTZ: an ISO-8601 string without zone (see parse_timestamp_ntz_micros); a zone
//     designator, even Z, is a bad record (Spark gives null), and so is a number.
//   - DATE: a "YYYY-MM-DD" string.
//   - Kafka columns (ColumnSpec::kafka, KAFKA_COLUMNS) are not read from the JSON: a key of the
//     same name is an unknown field; their values come from the Kafka record.
//   - A record may hold at most max(65536, max_record_bytes) values, every field of a STRUCT
//     counting whether present or not: a small payload of many `{}` in a wide struct cannot take
//     unbounded memory.
// Reasons say `field '<path>': ...` where the path is `user.tags[1]`, `items[2].price`,
// `attrs["k"]` (map keys JSON-quoted, cut at 64 bytes) or `s.`a.b`` (nested names a '.' would make
// ambiguous are back-quoted); a top-level field's path is its name, as written.
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
  // No heap allocation per good record once buffers have grown to the batch's size, nested
  // schemas included (the parser's tape and the builders keep their capacity).
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
