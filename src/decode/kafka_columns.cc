#include "decode/kafka_columns.h"

#include <array>
#include <limits>
#include <stdexcept>
#include <utility>

#include <arrow/type.h>
#include <simdjson.h>

#include "common/strings.h"
#include "decode/timestamp.h"

namespace kpipe {
namespace {

// Arrow's binary and utf8 arrays use int32 offsets; a builder refuses data past this.
constexpr int64_t kMaxBinaryColumnBytes = std::numeric_limits<int32_t>::max() - 1;

struct KafkaColumnName {
  std::string_view name;  // Spark's spelling
  KafkaField field;
};

// Spark's Kafka source order, which the columns keep whatever order KAFKA_COLUMNS lists them in.
constexpr std::array<KafkaColumnName, 7> kKafkaColumns = {{
    {"key", KafkaField::kKey},
    {"topic", KafkaField::kTopic},
    {"partition", KafkaField::kPartition},
    {"offset", KafkaField::kOffset},
    {"timestamp", KafkaField::kTimestamp},
    {"timestampType", KafkaField::kTimestampType},
    {"headers", KafkaField::kHeaders},
}};

constexpr std::string_view kExpected = "key, topic, partition, offset, timestamp, timestampType, headers";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status setting_error(std::string message) {
  return Status::fatal("KAFKA_COLUMNS: " + std::move(message), StatusCode::kInvalidArgument);
}

ColumnSpec leaf(std::string name, ColumnType type) {
  ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  return c;
}

ColumnSpec kafka_column(const KafkaColumnName& k) {
  ColumnSpec c;
  switch (k.field) {
    case KafkaField::kKey: c = leaf("key", ColumnType::kBinary); break;
    case KafkaField::kTopic: c = leaf("topic", ColumnType::kString); break;
    case KafkaField::kPartition: c = leaf("partition", ColumnType::kInt32); break;
    case KafkaField::kOffset: c = leaf("offset", ColumnType::kInt64); break;
    case KafkaField::kTimestamp: c = leaf("timestamp", ColumnType::kTimestamp); break;
    case KafkaField::kTimestampType: c = leaf("timestampType", ColumnType::kInt32); break;
    case KafkaField::kHeaders: {
      // ARRAY<STRUCT<key: STRING, value: BINARY>>, everything nullable, as Spark's headersType.
      ColumnSpec header = leaf("element", ColumnType::kStruct);
      header.children = {leaf("key", ColumnType::kString), leaf("value", ColumnType::kBinary)};
      c = leaf("headers", ColumnType::kArray);
      c.children = {std::move(header)};
      break;
    }
    case KafkaField::kNone: break;
  }
  c.kafka = k.field;
  return c;
}

// Kafka's timestamp is -1 when the record has none (message format v0); other values come from
// the producer or the broker, unchecked: a producer may set one past year 9999.
bool has_timestamp(const RawRecord& r) { return r.timestamp_type != KafkaTimestampType::kNone && r.timestamp_ms != -1; }

bool timestamp_in_range(const RawRecord& r) {
  return r.timestamp_ms >= kMinTimestampMillis && r.timestamp_ms <= kMaxTimestampMillis;
}

std::string out_of_range(const RawRecord& r) {
  return "Kafka timestamp " + std::to_string(r.timestamp_ms) + " ms is out of TIMESTAMP range (years 0001-9999)";
}

// Header names are short and nearly always ASCII: simdjson's validator costs more than the loop
// for them (4% of a record's decode with two headers).
bool is_utf8(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return simdjson::validate_utf8(text.data(), text.size());
  }
  return true;
}

int64_t data_length(const arrow::ArrayBuilder* builder) {
  return static_cast<const arrow::BinaryBuilder*>(builder)->value_data_length();
}

// The STRUCT<key, value> builder under the headers column's list builder.
const arrow::StructBuilder& header_builder(const arrow::ArrayBuilder& headers) {
  return *static_cast<const arrow::StructBuilder*>(static_cast<const arrow::ListBuilder&>(headers).value_builder());
}

}  // namespace

Result<std::vector<ColumnSpec>> parse_kafka_columns(std::string_view setting) {
  std::array<bool, kKafkaColumns.size()> wanted{};
  while (!setting.empty()) {
    const size_t comma = setting.find(',');
    const std::string_view word = trim(setting.substr(0, comma));
    setting = comma == std::string_view::npos ? std::string_view() : setting.substr(comma + 1);
    if (word.empty()) continue;
    size_t i = 0;
    while (i < kKafkaColumns.size() && !ascii_iequals(kKafkaColumns[i].name, word)) ++i;
    if (i == kKafkaColumns.size()) {
      if (ascii_iequals(word, "value")) {
        return setting_error(
            "'value' is the message payload, which SCHEMA decodes into columns; expected a comma list of " +
            std::string(kExpected));
      }
      return setting_error("unknown column '" + std::string(word) + "' (expected a comma list of " +
                           std::string(kExpected) + ")");
    }
    if (wanted[i]) return setting_error("'" + std::string(kKafkaColumns[i].name) + "' is listed twice");
    wanted[i] = true;
  }
  std::vector<ColumnSpec> columns;
  for (size_t i = 0; i < kKafkaColumns.size(); ++i) {
    if (wanted[i]) columns.push_back(kafka_column(kKafkaColumns[i]));
  }
  return columns;
}

Status add_kafka_columns(Schema& schema, std::string_view setting) {
  KPIPE_ASSIGN_OR_RETURN(std::vector<ColumnSpec> columns, parse_kafka_columns(setting));
  if (columns.empty()) return Status::success();
  for (ColumnSpec& column : columns) {
    const int clash = schema.index_of(column.name);
    if (clash >= 0) {
      return setting_error("'" + column.name + "' is also a column of SCHEMA ('" +
                           schema.columns[static_cast<size_t>(clash)].name +
                           "'; column names are case-insensitive): leave " + column.name +
                           " out of KAFKA_COLUMNS, or the payload's field out of SCHEMA");
    }
    schema.columns.push_back(std::move(column));
  }
  schema.arrow_schema = arrow_schema(schema.columns);
  return Status::success();
}

bool kafka_columns_include(std::string_view setting, KafkaField field) {
  auto columns = parse_kafka_columns(setting);
  if (!columns.ok()) return false;
  for (const ColumnSpec& c : *columns) {
    if (c.kafka == field) return true;
  }
  return false;
}

Result<int> resolve_partition_from(const Schema& schema, std::string_view name) {
  const int index = schema.index_of(name);
  if (index >= 0) {
    const ColumnSpec& column = schema.columns[static_cast<size_t>(index)];
    if (column.kafka == KafkaField::kTimestamp) return kPartitionFromKafkaTimestamp;
    const bool time = column.type == ColumnType::kTimestamp || column.type == ColumnType::kDate;
    if (time && column.kafka == KafkaField::kNone) return index;
  }
  if (ascii_iequals(name, "timestamp")) return kPartitionFromKafkaTimestamp;
  auto found = find_partition_column(schema, name);
  if (found.ok()) return *found;  // not reached: the checks above accept every valid column
  return Status::fatal(found.status().message() + "; PARTITION_FROM=timestamp takes the Kafka record's timestamp",
                       StatusCode::kInvalidArgument);
}

size_t payload_column_count(const std::vector<ColumnSpec>& columns) {
  size_t count = 0;
  while (count < columns.size() && columns[count].kafka == KafkaField::kNone) ++count;
  for (size_t i = count; i < columns.size(); ++i) {
    if (columns[i].kafka == KafkaField::kNone) {
      throw std::invalid_argument("schema: payload column '" + columns[i].name + "' after the Kafka columns");
    }
  }
  return count;
}

std::unique_ptr<arrow::ArrayBuilder> make_kafka_builder(const ColumnSpec& column, arrow::MemoryPool* pool) {
  auto builder = arrow::MakeBuilder(arrow_type(column), pool);
  if (!builder.ok()) throw std::invalid_argument("Kafka column '" + column.name + "': " + builder.status().ToString());
  return std::move(builder).ValueUnsafe();
}

bool kafka_timestamp_micros(const RawRecord& record, int64_t& micros) {
  if (!has_timestamp(record) || !timestamp_in_range(record)) return false;
  micros = record.timestamp_ms * 1000;
  return true;
}

bool kafka_event_time(const RawRecord& record, int64_t& micros, std::string& reason) {
  if (kafka_timestamp_micros(record, micros)) return true;
  reason = has_timestamp(record) ? out_of_range(record) + ", the record's dt (PARTITION_FROM=timestamp)"
                                 : "the record has no Kafka timestamp (a message format before Kafka 0.10), which "
                                   "PARTITION_FROM=timestamp needs for dt";
  return false;
}

bool check_kafka_column(const ColumnSpec& column, const RawRecord& record, std::string& reason) {
  switch (column.kafka) {
    case KafkaField::kTimestamp:
      if (has_timestamp(record) && !timestamp_in_range(record)) {
        reason = out_of_range(record);
        return false;
      }
      return true;
    case KafkaField::kHeaders: {
      // Kafka's clients write header names as UTF-8, but the protocol carries bytes; a STRING
      // column must hold valid UTF-8 for Parquet readers.
      PackedHeaders headers(record.headers);
      PackedHeaders::Header h;
      while (headers.next(h)) {
        if (!is_utf8(h.name)) {
          reason = "Kafka header name is not valid UTF-8 (KAFKA_COLUMNS headers: the key is a STRING)";
          return false;
        }
      }
      return true;
    }
    default: return true;
  }
}

bool kafka_column_fits(const ColumnSpec& column, const RawRecord& record, const arrow::ArrayBuilder& builder) {
  switch (column.kafka) {
    case KafkaField::kKey:
      return data_length(&builder) + static_cast<int64_t>(record.key.size()) <= kMaxBinaryColumnBytes;
    case KafkaField::kTopic:
      return data_length(&builder) + static_cast<int64_t>(record.topic.size()) <= kMaxBinaryColumnBytes;
    case KafkaField::kHeaders: {
      // The packed form is longer than the names and the values it holds, either of them.
      const auto& header = header_builder(builder);
      const auto size = static_cast<int64_t>(record.headers.size());
      return data_length(header.field_builder(0)) + size <= kMaxBinaryColumnBytes &&
             data_length(header.field_builder(1)) + size <= kMaxBinaryColumnBytes;
    }
    default: return true;
  }
}

arrow::Status append_kafka_column(const ColumnSpec& column, const RawRecord& record, arrow::ArrayBuilder* builder) {
  switch (column.kafka) {
    case KafkaField::kKey: {
      auto* b = static_cast<arrow::BinaryBuilder*>(builder);
      return record.has_key ? b->Append(record.key) : b->AppendNull();
    }
    case KafkaField::kTopic: return static_cast<arrow::StringBuilder*>(builder)->Append(record.topic);
    case KafkaField::kPartition: return static_cast<arrow::Int32Builder*>(builder)->Append(record.partition);
    case KafkaField::kOffset: return static_cast<arrow::Int64Builder*>(builder)->Append(record.offset);
    case KafkaField::kTimestamp: {
      auto* b = static_cast<arrow::TimestampBuilder*>(builder);
      int64_t micros = 0;
      return kafka_timestamp_micros(record, micros) ? b->Append(micros) : b->AppendNull();
    }
    case KafkaField::kTimestampType:
      return static_cast<arrow::Int32Builder*>(builder)->Append(static_cast<int32_t>(record.timestamp_type));
    case KafkaField::kHeaders: {
      auto* list = static_cast<arrow::ListBuilder*>(builder);
      if (record.headers.empty()) return list->AppendNull();  // Spark: null, not [], without headers
      auto* header = static_cast<arrow::StructBuilder*>(list->value_builder());
      auto* name = static_cast<arrow::StringBuilder*>(header->field_builder(0));
      auto* value = static_cast<arrow::BinaryBuilder*>(header->field_builder(1));
      ARROW_RETURN_NOT_OK(list->Append());
      PackedHeaders headers(record.headers);
      PackedHeaders::Header h;
      while (headers.next(h)) {
        ARROW_RETURN_NOT_OK(header->Append());
        ARROW_RETURN_NOT_OK(name->Append(h.name));
        ARROW_RETURN_NOT_OK(h.null_value ? value->AppendNull() : value->Append(h.value));
      }
      return arrow::Status::OK();
    }
    case KafkaField::kNone: break;
  }
  return arrow::Status::Invalid("column '" + column.name + "' is not a Kafka column");
}

size_t kafka_column_bytes(const ColumnSpec& column, const arrow::ArrayBuilder& builder) {
  const auto length = static_cast<size_t>(builder.length());
  switch (column.kafka) {
    case KafkaField::kKey:
    case KafkaField::kTopic: return length * sizeof(int32_t) + static_cast<size_t>(data_length(&builder));
    case KafkaField::kHeaders: {
      const arrow::StructBuilder& header = header_builder(builder);
      const auto headers = static_cast<size_t>(header.length());
      return length * sizeof(int32_t) + headers * 2 * sizeof(int32_t) +
             static_cast<size_t>(data_length(header.field_builder(0)) + data_length(header.field_builder(1)));
    }
    default: return length * 8;
  }
}

}  // namespace kpipe
