// Kafka's own columns (KAFKA_COLUMNS) and the Kafka record timestamp as dt (PARTITION_FROM=timestamp).
//
// KAFKA_COLUMNS is a comma list of Spark's Kafka source column names, case-insensitive, in any
// order; empty (the default) adds none. The columns come after SCHEMA's, always in Spark's
// order, with Spark's names and types, whatever order the list has:
//
//   key            BINARY                                    null for a null key; empty bytes for an empty one
//   topic          STRING
//   partition      INT
//   offset         BIGINT
//   timestamp      TIMESTAMP                                 null when the record has none (format v0)
//   timestampType  INT                                       0 CreateTime, 1 LogAppendTime, -1 none
//   headers        ARRAY<STRUCT<key: STRING, value: BINARY>> in the producer's order; null when the
//                                                            record has no headers (as Spark gives)
//
// Their values come from the Kafka record (RawRecord), never from the JSON payload: a payload
// field of the same name is ignored, and a SCHEMA column of the same name is a settings error.
//
// PARTITION_FROM: a TIMESTAMP or DATE column of SCHEMA of that name gives dt, as before; when
// there is none, `timestamp` (any case) means the Kafka record's timestamp, whether or not
// KAFKA_COLUMNS shows it as a column. dt is then its UTC date, and it is the event time that
// DT_COMPLETE_AFTER's watermarks and late-row counts use.
//
// A record is bad (dead-lettered with the reason) when a Kafka field it needs cannot be
// represented: a timestamp outside years 0001-9999 (for the timestamp column or dt), no timestamp
// at all (for dt), a header name that is not UTF-8 (for headers).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <arrow/builder.h>
#include <arrow/memory_pool.h>
#include <arrow/status.h>

#include "common/record.h"
#include "common/status.h"
#include "decode/schema.h"

namespace kpipe {

// The partition "column" that means the Kafka record's timestamp (see resolve_partition_from).
inline constexpr int kPartitionFromKafkaTimestamp = -1;

// The columns KAFKA_COLUMNS names, in Spark's order. Errors are Status::fatal with
// StatusCode::kInvalidArgument, start with "KAFKA_COLUMNS: " and quote the bad word.
Result<std::vector<ColumnSpec>> parse_kafka_columns(std::string_view setting);

// Appends KAFKA_COLUMNS' columns to a schema parsed from SCHEMA and rebuilds its Arrow schema.
// A name SCHEMA has already (case-insensitive) is an error that says how to resolve it.
Status add_kafka_columns(Schema& schema, std::string_view setting);

// Whether KAFKA_COLUMNS asks for `field` (false for a setting that does not parse): the source
// copies keys and headers only when some decoder needs them.
bool kafka_columns_include(std::string_view setting, KafkaField field);

// PARTITION_FROM over a schema with its Kafka columns: the index of the TIMESTAMP or DATE column of
// that name, or kPartitionFromKafkaTimestamp (see the top of this file). A Kafka `timestamp`
// column gives kPartitionFromKafkaTimestamp too: the decoder reads the record either way. Errors
// are find_partition_column's (Status::fatal, "PARTITION_FROM: "), with kInvalidArgument.
Result<int> resolve_partition_from(const Schema& schema, std::string_view name);

// Top-level columns before the first Kafka column: the ones the JSON payload fills. Throws
// std::invalid_argument when a payload column follows a Kafka column (add_kafka_columns never
// builds that).
size_t payload_column_count(const std::vector<ColumnSpec>& columns);

// The builder of a Kafka column (its Arrow type: arrow_type(column)).
std::unique_ptr<arrow::ArrayBuilder> make_kafka_builder(const ColumnSpec& column, arrow::MemoryPool* pool);

// The record's timestamp in µs since the epoch, when it has one within years 0001-9999.
bool kafka_timestamp_micros(const RawRecord& record, int64_t& micros);
// The same as dt's event time (PARTITION_FROM=timestamp): false with the reason for a bad record.
bool kafka_event_time(const RawRecord& record, int64_t& micros, std::string& reason);

// Whether `record` can fill `column` (a Kafka column): false with the reason for a bad record.
// Called for every Kafka column before anything of the row is appended, so a row is whole or
// absent. Allocates only for a bad record.
bool check_kafka_column(const ColumnSpec& column, const RawRecord& record, std::string& reason);

// Whether appending `record`'s value keeps `builder` (of `column`) within Arrow's 2 GiB of
// binary or string data per array; false: the batch must be cut before this record.
bool kafka_column_fits(const ColumnSpec& column, const RawRecord& record, const arrow::ArrayBuilder& builder);

// Appends `record`'s value of `column` (a Kafka column, checked by check_kafka_column) to its
// builder (from make_kafka_builder). No heap allocation once the builders have grown.
arrow::Status append_kafka_column(const ColumnSpec& column, const RawRecord& record, arrow::ArrayBuilder* builder);

// Approximate bytes `builder` holds, for RecordDecoder::buffered_bytes.
size_t kafka_column_bytes(const ColumnSpec& column, const arrow::ArrayBuilder& builder);

}  // namespace kpipe
