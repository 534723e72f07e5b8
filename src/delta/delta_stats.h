// The per-file statistics of a Delta `add` action (delta-io/delta PROTOCOL.md, "Per-file
// Statistics"), taken from the footer of the Parquet file Arrow wrote: the column chunk
// statistics of every row group, combined per column. Only the footer is decoded, never a data
// page, so this costs microseconds per file.
//
// What is written, and why (the protocol leaves the details to the writer; we follow Delta's
// Spark writer, StatisticsCollection.scala, unless it would give a wrong bound):
//   - numRecords: the rows of all row groups.
//   - nesting: a struct's stats are an object of its fields' stats, as the schema is nested
//     ({"minValues":{"user":{"id":1}}}); a struct none of whose fields has a stat is left out.
//     Arrays and maps, and everything inside them, get no stats at all: Delta keeps no min/max
//     for them, and their nullCount (null arrays, per row) is not in the footer, whose counts
//     are per element (delta-rs leaves them out the same way; Spark's writer, which scans the
//     rows, writes a nullCount for them).
//   - nullCount: for every column or struct field (not inside an array or map) whose chunks
//     all carry a null count. A struct field counts the rows where its struct is null too, as
//     Spark's `a.b IS NULL` does.
//   - minValues/maxValues: for the types Delta collects them on (numbers including TINYINT,
//     SMALLINT and DECIMAL, date, timestamp, TIMESTAMP_NTZ, string; not boolean or binary:
//     Spark's SkippingEligibleDataType has neither) when every chunk that has a non-null value
//     carries min/max. All-null columns have none.
//   - decimals: exact JSON numbers with the column's scale (12.30), from INT32, INT64 or
//     FIXED_LEN_BYTE_ARRAY; delta-rs writes them through a double, which can miss the bound.
//   - timestamps: ISO 8601 UTC with milliseconds, as the protocol says ("Timestamp columns are
//     truncated down to milliseconds"). The min is floored; the max is rounded up to the next
//     millisecond when it has sub-millisecond digits, so it stays an upper bound for readers
//     that do not widen it by 1 ms as Spark's data skipping does. TIMESTAMP_NTZ the same way
//     without the zone, as Spark's to_json writes it: "2025-11-06T12:30:00.124".
//   - strings: cut to 32 code points (Spark's dataSkippingStringPrefixLength). A cut max gets
//     Spark's tie-breaker U+FFFD appended, after extending the prefix over any code points
//     >= U+FFFD, so it stays >= every value in UTF-8 byte order.
//   - floats: a non-finite min or max leaves the column out of minValues/maxValues. Parquet
//     writers leave NaN out of the footer statistics, so a NaN in the data is not visible here
//     (delta-rs, which also reads the footer, behaves the same).
#pragma once

#include <string>

#include "common/status.h"

namespace arrow {
class Buffer;
}

namespace kpipe {

// Returns the stats JSON of one Parquet file held whole in `parquet_file`, e.g.
// {"numRecords":3,"minValues":{"a":1},"maxValues":{"a":7},"nullCount":{"a":0}}.
// Fails (kFatal, "reading the Parquet footer for Delta stats: ...") when the footer is not
// readable. Thread-safe; reads `parquet_file` only for the duration of the call.
[[nodiscard]] Result<std::string> delta_file_stats(const arrow::Buffer& parquet_file);

}  // namespace kpipe
