// KAFKA_COLUMNS and PARTITION_FROM=timestamp: the setting, the columns' Spark types, and the
// decoder filling them from the Kafka record (never from the payload).
#include "decode/kafka_columns.h"

#include <string>
#include <vector>

#include <arrow/array.h>
#include <arrow/type.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "decode/record_decoder.h"
#include "decode/timestamp.h"

namespace kpipe {
namespace {

using ::testing::HasSubstr;

constexpr const char* kAll = "key,topic,partition,offset,timestamp,timestampType,headers";
constexpr int64_t kTimestampMs = 1762432200123;  // 2025-11-06T12:30:00.123Z
constexpr int32_t kDay = 20398;                  // 2025-11-06

Schema schema_with(const char* ddl, const char* kafka_columns) {
  Result<Schema> schema = parse_ddl(ddl);
  EXPECT_TRUE(schema.ok()) << schema.status().message();
  Status st = add_kafka_columns(*schema, kafka_columns);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::move(schema).value();
}

std::string kafka_error(const char* ddl, const char* kafka_columns) {
  Result<Schema> schema = parse_ddl(ddl);
  EXPECT_TRUE(schema.ok());
  Status st = add_kafka_columns(*schema, kafka_columns);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  return st.message();
}

RawRecord record(std::string_view payload, int64_t offset = 7) {
  RawRecord r;
  r.payload = payload;
  r.partition = 2;
  r.offset = offset;
  r.timestamp_ms = kTimestampMs;
  r.timestamp_type = KafkaTimestampType::kCreateTime;
  r.topic = "events";
  return r;
}

DecodedBatch finish(RecordDecoder& decoder) {
  Result<DecodedBatch> batch = decoder.finish();
  EXPECT_TRUE(batch.ok()) << batch.status().message();
  return std::move(batch).value();
}

std::shared_ptr<arrow::Array> column(const DecodedBatch& batch, const char* name) {
  auto array = batch.rows->GetColumnByName(name);
  EXPECT_NE(array, nullptr) << name;
  return array;
}

TEST(KafkaColumnsSetting, EmptyMeansNone) {
  for (const char* setting : {"", " ", ",", " , "}) {
    Result<std::vector<ColumnSpec>> columns = parse_kafka_columns(setting);
    ASSERT_TRUE(columns.ok()) << setting;
    EXPECT_TRUE(columns->empty()) << setting;
  }
}

TEST(KafkaColumnsSetting, AnyCaseAnyOrderGivesSparksNamesInSparksOrder) {
  Result<std::vector<ColumnSpec>> columns = parse_kafka_columns(" HEADERS, timestamptype ,Key,offset ");
  ASSERT_TRUE(columns.ok()) << columns.status().message();
  ASSERT_EQ(columns->size(), 4u);
  EXPECT_EQ((*columns)[0].name, "key");
  EXPECT_EQ((*columns)[1].name, "offset");
  EXPECT_EQ((*columns)[2].name, "timestampType");
  EXPECT_EQ((*columns)[3].name, "headers");
  EXPECT_EQ((*columns)[0].kafka, KafkaField::kKey);
  EXPECT_EQ((*columns)[3].kafka, KafkaField::kHeaders);
}

TEST(KafkaColumnsSetting, SparksKafkaSourceTypes) {
  Schema schema = schema_with("event_id STRING", kAll);
  EXPECT_EQ(to_ddl(schema.columns),
            "event_id STRING, key BINARY, topic STRING, partition INT, offset BIGINT, timestamp TIMESTAMP, "
            "timestampType INT, headers ARRAY<STRUCT<key: STRING, value: BINARY>>");
  const arrow::Schema& arrow = *schema.arrow_schema;
  ASSERT_EQ(arrow.num_fields(), 8);
  EXPECT_TRUE(arrow.field(1)->type()->Equals(arrow::binary()));
  EXPECT_TRUE(arrow.field(2)->type()->Equals(arrow::utf8()));
  EXPECT_TRUE(arrow.field(3)->type()->Equals(arrow::int32()));
  EXPECT_TRUE(arrow.field(4)->type()->Equals(arrow::int64()));
  EXPECT_TRUE(arrow.field(5)->type()->Equals(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")));
  EXPECT_TRUE(arrow.field(6)->type()->Equals(arrow::int32()));
  auto header = arrow::struct_({arrow::field("key", arrow::utf8()), arrow::field("value", arrow::binary())});
  EXPECT_TRUE(arrow.field(7)->type()->Equals(arrow::list(arrow::field("element", header))))
      << arrow.field(7)->type()->ToString();
  for (int i = 1; i < 8; ++i) EXPECT_TRUE(arrow.field(i)->nullable()) << "nullable, as in Spark: " << i;
}

TEST(KafkaColumnsSetting, ErrorsNameTheSettingAndTheWord) {
  EXPECT_THAT(kafka_error("a INT", "key,keys"), HasSubstr("KAFKA_COLUMNS: unknown column 'keys'"));
  EXPECT_THAT(kafka_error("a INT", "key,keys"),
              HasSubstr("key, topic, partition, offset, timestamp, timestampType, headers"));
  EXPECT_THAT(kafka_error("a INT", "value"), HasSubstr("'value' is the message payload"));
  EXPECT_THAT(kafka_error("a INT", "key, KEY"), HasSubstr("KAFKA_COLUMNS: 'key' is listed twice"));
}

TEST(KafkaColumnsSetting, NameOfASchemaColumnIsAnErrorThatSaysHowToResolveIt) {
  const std::string message = kafka_error("Key STRING, ts TIMESTAMP", "topic,key");
  EXPECT_THAT(message, HasSubstr("KAFKA_COLUMNS: 'key' is also a column of SCHEMA ('Key'"));
  EXPECT_THAT(message, HasSubstr("case-insensitive"));
  EXPECT_THAT(message, HasSubstr("leave key out of KAFKA_COLUMNS, or the payload's field out of SCHEMA"));
}

TEST(KafkaColumnsSetting, IncludeTellsTheSourceWhatToCopy) {
  EXPECT_TRUE(kafka_columns_include("topic, KEY", KafkaField::kKey));
  EXPECT_FALSE(kafka_columns_include("topic, KEY", KafkaField::kHeaders));
  EXPECT_FALSE(kafka_columns_include("", KafkaField::kKey));
  EXPECT_FALSE(kafka_columns_include("key, nonsense", KafkaField::kKey));
}

TEST(PartitionFrom, ASchemaColumnWinsThenTimestampMeansTheKafkaRecords) {
  Schema plain = schema_with("id STRING, ts TIMESTAMP, d DATE", "");
  EXPECT_EQ(*resolve_partition_from(plain, "TS"), 1);
  EXPECT_EQ(*resolve_partition_from(plain, "d"), 2);
  EXPECT_EQ(*resolve_partition_from(plain, "timestamp"), kPartitionFromKafkaTimestamp);
  EXPECT_EQ(*resolve_partition_from(plain, "TimeStamp"), kPartitionFromKafkaTimestamp);

  Schema shown = schema_with("id STRING", "timestamp,offset");
  EXPECT_EQ(*resolve_partition_from(shown, "timestamp"), kPartitionFromKafkaTimestamp);

  Schema own = schema_with("id STRING, timestamp TIMESTAMP", "");
  EXPECT_EQ(*resolve_partition_from(own, "timestamp"), 1) << "the payload's own timestamp column, as before";
  Schema text = schema_with("id STRING, timestamp STRING", "");
  EXPECT_EQ(*resolve_partition_from(text, "timestamp"), kPartitionFromKafkaTimestamp);
}

TEST(PartitionFrom, ErrorsNameTheSettingAndMentionTimestamp) {
  Schema schema = schema_with("id STRING, n BIGINT", "offset");
  Result<int> missing = resolve_partition_from(schema, "when");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("PARTITION_FROM: column 'when'"));
  EXPECT_THAT(missing.status().message(), HasSubstr("PARTITION_FROM=timestamp takes the Kafka record's timestamp"));
  Result<int> offset = resolve_partition_from(schema, "offset");
  ASSERT_FALSE(offset.ok());
  EXPECT_THAT(offset.status().message(), HasSubstr("must be TIMESTAMP or DATE"));
}

TEST(PackedHeaders, RoundTripKeepsOrderDuplicatesAndNullValues) {
  std::string packed;
  PackedHeaders::append(packed, "trace", std::string("a\0b", 3));
  PackedHeaders::append(packed, "empty", "");
  PackedHeaders::append(packed, "gone", "ignored", true);
  PackedHeaders::append(packed, "trace", "again");
  PackedHeaders reader(packed);
  PackedHeaders::Header h;
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.name, "trace");
  EXPECT_EQ(h.value, std::string("a\0b", 3));
  EXPECT_FALSE(h.null_value);
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.name, "empty");
  EXPECT_TRUE(h.value.empty());
  EXPECT_FALSE(h.null_value);
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.name, "gone");
  EXPECT_TRUE(h.null_value);
  ASSERT_TRUE(reader.next(h));
  EXPECT_EQ(h.value, "again");
  EXPECT_FALSE(reader.next(h));
}

TEST(KafkaColumnsDecoder, ValuesComeFromTheRecordNotThePayload) {
  RecordDecoder decoder(schema_with("id STRING, ts TIMESTAMP", kAll), 1, DecodeLimits{});
  // The payload has fields of the Kafka columns' names: ignored, as any field outside SCHEMA.
  const std::string payload = R"({"id":"a","ts":"2025-11-07T00:00:00Z","key":"k","topic":7,"headers":[]})";

  RawRecord null_key = record(payload, 7);  // null key, no headers
  decoder.add(null_key);

  RawRecord empty_key = record(payload, 8);
  empty_key.has_key = true;
  empty_key.timestamp_type = KafkaTimestampType::kLogAppendTime;
  std::string headers;
  PackedHeaders::append(headers, "trace", std::string("\x00\xff", 2));
  PackedHeaders::append(headers, "null", "", true);
  PackedHeaders::append(headers, "empty", "");
  empty_key.headers = headers;
  decoder.add(empty_key);

  RawRecord bytes_key = record(payload, 9);
  const std::string key("k\0\xfe", 3);
  bytes_key.key = key;
  bytes_key.has_key = true;
  bytes_key.timestamp_ms = -1;
  bytes_key.timestamp_type = KafkaTimestampType::kNone;
  decoder.add(bytes_key);

  DecodedBatch batch = finish(decoder);
  ASSERT_EQ(batch.bad.size(), 0u) << batch.bad[0].reason;
  ASSERT_EQ(batch.rows->num_rows(), 3);
  ASSERT_TRUE(batch.rows->ValidateFull().ok());
  EXPECT_EQ(batch.rows->schema()->field(2)->name(), "key");

  const auto& keys = static_cast<const arrow::BinaryArray&>(*column(batch, "key"));
  EXPECT_TRUE(keys.IsNull(0)) << "a null key is null";
  EXPECT_FALSE(keys.IsNull(1)) << "an empty key is empty bytes, not null";
  EXPECT_EQ(keys.GetView(1), "");
  EXPECT_EQ(keys.GetView(2), key);

  const auto& topics = static_cast<const arrow::StringArray&>(*column(batch, "topic"));
  const auto& partitions = static_cast<const arrow::Int32Array&>(*column(batch, "partition"));
  const auto& offsets = static_cast<const arrow::Int64Array&>(*column(batch, "offset"));
  const auto& times = static_cast<const arrow::TimestampArray&>(*column(batch, "timestamp"));
  const auto& types = static_cast<const arrow::Int32Array&>(*column(batch, "timestampType"));
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(topics.GetView(i), "events");
    EXPECT_EQ(partitions.Value(i), 2);
    EXPECT_EQ(offsets.Value(i), 7 + i);
  }
  EXPECT_EQ(times.Value(0), kTimestampMs * 1000);
  EXPECT_TRUE(times.IsNull(2)) << "a record without a timestamp";
  EXPECT_EQ(types.Value(0), 0);
  EXPECT_EQ(types.Value(1), 1);
  EXPECT_EQ(types.Value(2), -1);

  const auto& lists = static_cast<const arrow::ListArray&>(*column(batch, "headers"));
  EXPECT_TRUE(lists.IsNull(0)) << "no headers: null, as Spark gives";
  ASSERT_EQ(lists.value_length(1), 3);
  const auto& header = static_cast<const arrow::StructArray&>(*lists.values());
  const auto& names = static_cast<const arrow::StringArray&>(*header.field(0));
  const auto& values = static_cast<const arrow::BinaryArray&>(*header.field(1));
  const int64_t first = lists.value_offset(1);
  EXPECT_EQ(names.GetView(first), "trace");
  EXPECT_EQ(values.GetView(first), std::string("\x00\xff", 2));
  EXPECT_EQ(names.GetView(first + 1), "null");
  EXPECT_TRUE(values.IsNull(first + 1)) << "a null header value stays null";
  EXPECT_EQ(names.GetView(first + 2), "empty");
  EXPECT_FALSE(values.IsNull(first + 2));
  EXPECT_EQ(values.GetView(first + 2), "");

  // dt still from the payload's ts.
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kDay + 1, kDay + 1, kDay + 1}));
}

TEST(KafkaColumnsDecoder, ABadPayloadLeavesNoKafkaValuesBehind) {
  RecordDecoder decoder(schema_with("id STRING NOT NULL, ts TIMESTAMP", "key,offset,headers"), 1, DecodeLimits{});
  RawRecord bad = record(R"({"ts":"2025-11-06T00:00:00Z"})", 1);
  bad.has_key = true;
  decoder.add(bad);
  decoder.add(record(R"({"id":"b","ts":"2025-11-06T00:00:00Z"})", 2));
  DecodedBatch batch = finish(decoder);
  ASSERT_EQ(batch.bad.size(), 1u);
  EXPECT_THAT(batch.bad[0].reason, HasSubstr("NOT NULL"));
  ASSERT_EQ(batch.rows->num_rows(), 1);
  ASSERT_TRUE(batch.rows->ValidateFull().ok());
  EXPECT_EQ(static_cast<const arrow::Int64Array&>(*column(batch, "offset")).Value(0), 2);
}

TEST(KafkaColumnsDecoder, HeaderNameThatIsNotUtf8IsABadRecord) {
  RecordDecoder decoder(schema_with("id STRING, ts TIMESTAMP", "headers"), 1, DecodeLimits{});
  RawRecord r = record(R"({"id":"a","ts":"2025-11-06T00:00:00Z"})");
  std::string headers;
  PackedHeaders::append(headers, "\xff\xfe", "v");
  r.headers = headers;
  decoder.add(r);
  DecodedBatch batch = finish(decoder);
  ASSERT_EQ(batch.bad.size(), 1u);
  EXPECT_THAT(batch.bad[0].reason, HasSubstr("header name is not valid UTF-8"));
  EXPECT_EQ(batch.rows->num_rows(), 0);
}

TEST(KafkaColumnsDecoder, TimestampOutsideYears0001To9999IsABadRecord) {
  RecordDecoder decoder(schema_with("id STRING, ts TIMESTAMP", "timestamp"), 1, DecodeLimits{});
  RawRecord r = record(R"({"id":"a","ts":"2025-11-06T00:00:00Z"})");
  r.timestamp_ms = kMaxTimestampMillis + 1;
  decoder.add(r);
  DecodedBatch batch = finish(decoder);
  ASSERT_EQ(batch.bad.size(), 1u);
  EXPECT_THAT(batch.bad[0].reason, HasSubstr("out of TIMESTAMP range"));
}

TEST(KafkaColumnsDecoder, PartitionFromTheKafkaTimestamp) {
  Schema schema = schema_with("id STRING, n INT", "");
  const int partition = *resolve_partition_from(schema, "timestamp");
  RecordDecoder decoder(std::move(schema), partition, DecodeLimits{});
  // The payload has no time at all, and a field named "timestamp" that is not one.
  RawRecord first = record(R"({"id":"a","n":1,"timestamp":"soon"})", 1);
  RawRecord next_day = record(R"({"id":"b","n":2})", 2);
  next_day.timestamp_ms = kTimestampMs + 86400000;
  RawRecord before_1970 = record(R"({"id":"c"})", 3);
  before_1970.timestamp_ms = 0;  // the epoch itself: 1970-01-01
  RawRecord none = record(R"({"id":"d"})", 4);
  none.timestamp_ms = -1;
  none.timestamp_type = KafkaTimestampType::kNone;
  RawRecord huge = record(R"({"id":"e"})", 5);
  huge.timestamp_ms = kMaxTimestampMillis + 1;
  for (const RawRecord* r : {&first, &next_day, &before_1970, &none, &huge}) decoder.add(*r);

  DecodedBatch batch = finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 3);
  EXPECT_EQ(batch.rows->num_columns(), 2) << "no column is added for dt";
  EXPECT_EQ(batch.dt_days, (std::vector<int32_t>{kDay, kDay + 1, 0}));
  EXPECT_EQ(batch.max_event_us, (kTimestampMs + 86400000) * 1000);
  ASSERT_EQ(batch.bad.size(), 2u);
  EXPECT_EQ(batch.bad[0].offset, 4);
  EXPECT_THAT(batch.bad[0].reason, HasSubstr("no Kafka timestamp"));
  EXPECT_THAT(batch.bad[0].reason, HasSubstr("PARTITION_FROM=timestamp"));
  EXPECT_EQ(batch.bad[1].offset, 5);
  EXPECT_THAT(batch.bad[1].reason, HasSubstr("out of TIMESTAMP range"));
}

TEST(KafkaColumnsDecoder, PartitionFromTheShownKafkaTimestampColumn) {
  Schema schema = schema_with("id STRING", "offset,timestamp");
  const int partition = *resolve_partition_from(schema, "timestamp");
  ASSERT_EQ(partition, kPartitionFromKafkaTimestamp);
  RecordDecoder decoder(std::move(schema), partition, DecodeLimits{});
  decoder.add(record(R"({"id":"a"})", 1));
  DecodedBatch batch = finish(decoder);
  ASSERT_EQ(batch.rows->num_rows(), 1);
  EXPECT_EQ(batch.dt_days, std::vector<int32_t>{kDay});
  EXPECT_EQ(static_cast<const arrow::TimestampArray&>(*column(batch, "timestamp")).Value(0), kTimestampMs * 1000);
}

TEST(KafkaColumnsDecoder, MaxEventTimeOfAPayloadColumn) {
  Schema schema = schema_with("d DATE, ts TIMESTAMP", "");
  RecordDecoder by_date(schema, 0, DecodeLimits{});
  by_date.add(record(R"({"d":"2025-11-07","ts":"2025-11-01T00:00:00Z"})"));
  by_date.add(record(R"({"d":"2025-11-06","ts":"2025-11-09T00:00:00Z"})"));
  DecodedBatch dates = finish(by_date);
  EXPECT_EQ(dates.max_event_us, int64_t{kDay + 1} * 86400 * 1000000) << "a DATE counts at its midnight";
  EXPECT_EQ(dates.dt_days, (std::vector<int32_t>{kDay + 1, kDay}));
}

}  // namespace
}  // namespace kpipe
