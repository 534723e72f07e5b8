// libFuzzer target for everything in src/decode that reads untrusted bytes: Kafka payloads
// (RecordDecoder::add, with a flat schema of the seed's types and with a nested one of STRUCT,
// ARRAY, MAP, DECIMAL, SMALLINT, TINYINT, BINARY and TIMESTAMP_NTZ), the SCHEMA setting
// (parse_ddl), timestamp, decimal and base64 text. Beyond "no crash, no sanitizer report" it
// checks properties that a wrong decoder would break:
//   - every add() yields exactly one good row or one BadRecord carrying the exact payload;
//   - a payload simdjson's fully validating DOM parser rejects is never a good row;
//   - a good batch passes Arrow's ValidateFull (which includes UTF-8 of string columns) and its dt
//     is a date in years 0001..9999;
//   - accepted timestamps are in range and their dates round-trip through format_date; a
//     TIMESTAMP_NTZ text is the TIMESTAMP of the same text without zone;
//   - an exact decimal formats back to text that parses to the same value; base64 never writes
//     past base64_max_decoded_size.
//   - with KAFKA_COLUMNS and PARTITION_FROM=timestamp, the same for a record whose key, headers
//     (names not always UTF-8) and timestamp come from the input, and a good row holds its key.
//
// Built and run by tests/fuzz/run (make fuzz), like the other targets. By hand, from the
// repository root:
//
//   A=$PWD/.venv/lib/python3.11/site-packages/pyarrow
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
//     -Isrc -isystem $A/include tests/fuzz/decode_fuzz.cc src/decode/*.cc \
//     -lsimdjson $A/libarrow.so.2600 -Wl,-rpath,$A -o /tmp/decode_fuzz
//   mkdir -p /tmp/decode_corpus
//   /tmp/decode_fuzz -max_total_time=60 -max_len=8192 -dict=tests/fuzz/decode_fuzz.dict \
//     /tmp/decode_corpus tests/fuzz/corpus/decode
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <arrow/array.h>
#include <arrow/record_batch.h>
#include <arrow/type.h>
#include <simdjson.h>

#include "common/time_format.h"
#include "decode/base64.h"
#include "decode/decimal.h"
#include "decode/kafka_columns.h"
#include "decode/record_decoder.h"
#include "decode/schema.h"
#include "decode/timestamp.h"

namespace {

[[noreturn]] void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "decode_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

kpipe::RecordDecoder& decoder() {
  // Every column type; small limits so the size checks are reached with short inputs.
  static kpipe::RecordDecoder* instance = [] {
    kpipe::Result<kpipe::Schema> schema = kpipe::parse_ddl(
        "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING, l BIGINT, i INT, f FLOAT, "
        "b BOOLEAN, d DATE, `we\"ird\\name` STRING");
    if (!schema.ok()) fail("fuzz schema:", schema.status().message());
    kpipe::DecodeLimits limits;
    limits.max_record_bytes = 6000;
    limits.max_string_bytes = 100;
    return new kpipe::RecordDecoder(std::move(schema).value(), 1, limits);
  }();
  return *instance;
}

kpipe::ColumnSpec leaf(std::string name, kpipe::ColumnType type, bool nullable = true) {
  kpipe::ColumnSpec c;
  c.name = std::move(name);
  c.type = type;
  c.nullable = nullable;
  return c;
}

kpipe::ColumnSpec parent(std::string name, kpipe::ColumnType type, std::vector<kpipe::ColumnSpec> children) {
  kpipe::ColumnSpec c = leaf(std::move(name), type);
  c.children = std::move(children);
  return c;
}

kpipe::ColumnSpec decimal(std::string name, int precision, int scale) {
  kpipe::ColumnSpec c = leaf(std::move(name), kpipe::ColumnType::kDecimal);
  c.precision = precision;
  c.scale = scale;
  return c;
}

// The event and more: every nested shape and newer type, a NOT NULL field inside a
// struct, maps in arrays and arrays in maps, a Kafka column (not read from the JSON). Built by
// hand, as the DDL parser is fuzzed on its own.
kpipe::RecordDecoder& nested_decoder() {
  static kpipe::RecordDecoder* instance = [] {
    using T = kpipe::ColumnType;
    kpipe::ColumnSpec key = leaf("key", T::kString, false);
    kpipe::ColumnSpec topic = leaf("topic", T::kString);
    topic.kafka = kpipe::KafkaField::kTopic;
    kpipe::Schema schema;
    schema.columns = {
        leaf("ts", T::kTimestamp),
        parent("user", T::kStruct,
               {leaf("id", T::kInt64, false), parent("tags", T::kArray, {leaf("element", T::kString)}),
                leaf("s", T::kInt16), leaf("t", T::kInt8)}),
        parent("items", T::kArray, {parent("element", T::kStruct, {leaf("sku", T::kString), decimal("price", 10, 2)})}),
        parent("attrs", T::kMap, {key, leaf("value", T::kString)}),
        parent("m", T::kMap,
               {key, parent("value", T::kArray, {parent("element", T::kMap, {key, decimal("value", 38, 0)})})}),
        decimal("d", 38, 38),
        leaf("b", T::kBinary),
        leaf("n", T::kTimestampNtz),
        parent("aa", T::kArray, {parent("element", T::kArray, {leaf("element", T::kBinary)})}),
        topic,
    };
    schema.arrow_schema = kpipe::arrow_schema(schema.columns);
    kpipe::DecodeLimits limits;
    limits.max_record_bytes = 6000;
    limits.max_string_bytes = 100;
    return new kpipe::RecordDecoder(std::move(schema), 0, limits);
  }();
  return *instance;
}

// True if simdjson's DOM parser, which validates the whole document, accepts it as an object.
// Undecided: DOM 3.0.1 reports integers beyond 64 bits (valid JSON that we accept) as NUMBER_ERROR,
// and its depth limit differs from ours.
bool dom_accepts_object(std::string_view payload, bool& undecided) {
  static simdjson::dom::parser parser;
  simdjson::dom::element element;
  const simdjson::error_code error = parser.parse(payload.data(), payload.size()).get(element);
  undecided = error == simdjson::NUMBER_ERROR || error == simdjson::DEPTH_ERROR;
  return !error && element.is_object();
}

void check_decoder(kpipe::RecordDecoder& d, std::string_view payload) {
  kpipe::RawRecord record;
  record.payload = payload;
  record.partition = 3;
  record.offset = 42;
  d.add(record);
  if (d.good_rows() + d.bad_rows() != 1) fail("add() did not yield exactly one row or bad record");
  const bool good = d.good_rows() == 1;

  kpipe::Result<kpipe::DecodedBatch> batch = d.finish();
  if (!batch.ok()) fail("finish():", batch.status().message());
  if (batch->rows->num_rows() != (good ? 1 : 0)) fail("row count differs from good_rows()");
  if (batch->dt_days.size() != static_cast<size_t>(batch->rows->num_rows())) fail("dt_days size");
  if (!batch->rows->ValidateFull().ok()) fail("invalid batch:", batch->rows->ValidateFull().ToString());
  if (good) {
    const int32_t dt = batch->dt_days[0];
    if (dt < -719162 || dt > 2932896) fail("dt out of years 0001..9999");
    bool undecided = false;
    if (!dom_accepts_object(payload, undecided) && !undecided) fail("accepted JSON that DOM rejects:", payload);
  } else {
    const kpipe::BadRecord& bad = batch->bad.at(0);
    if (bad.payload != payload || bad.offset != 42 || bad.partition != 3) fail("BadRecord lost its origin");
    if (bad.reason.empty()) fail("BadRecord without a reason");
    // Calling valid JSON malformed would send users hunting for a producer bug that is ours.
    // Nesting past our limit (1000) but within DOM's (1024) is the one intended difference.
    const bool claims_malformed = bad.reason.rfind("malformed JSON", 0) == 0 || bad.reason == "invalid UTF-8";
    bool undecided = false;
    if (claims_malformed && bad.reason.find("too deep") == std::string::npos &&
        dom_accepts_object(payload, undecided)) {
      fail("called valid JSON malformed:", bad.reason);
    }
  }
}

void check_decimal(std::string_view text) {
  for (const auto [precision, scale] : {std::pair{10, 2}, std::pair{38, 0}, std::pair{38, 38}, std::pair{5, 5}}) {
    kpipe::DecimalValue value;
    if (kpipe::parse_decimal(text, precision, scale, true, value) != kpipe::DecimalParse::kOk) continue;
    char buffer[48];
    const std::string_view formatted = kpipe::format_decimal(value, scale, buffer);
    kpipe::DecimalValue again;
    if (kpipe::parse_decimal(formatted, precision, scale, false, again) != kpipe::DecimalParse::kOk ||
        again.high != value.high || again.low != value.low || again.rounded) {
      fail("decimal does not round-trip:", formatted);
    }
  }
}

void check_base64(std::string_view text) {
  static std::vector<char> out;
  const size_t max = kpipe::base64_max_decoded_size(text.size());
  out.assign(max + 16, '\x5a');
  size_t error_at = 0;
  const long n = kpipe::decode_base64(text, out.data(), error_at);
  if (n > static_cast<long>(max)) fail("base64 wrote past its bound");
  for (size_t i = max; i < out.size(); ++i) {
    if (out[i] != '\x5a') fail("base64 wrote past its bound");
  }
  if (n < 0 && error_at > text.size()) fail("base64 error position out of the text");
}

kpipe::RecordDecoder& kafka_decoder() {
  static kpipe::RecordDecoder* instance = [] {
    kpipe::Result<kpipe::Schema> schema = kpipe::parse_ddl("id STRING, n INT");
    if (!schema.ok()) fail("fuzz schema:", schema.status().message());
    kpipe::Status st = kpipe::add_kafka_columns(*schema, "key,topic,partition,offset,timestamp,timestampType,headers");
    if (!st.ok()) fail("fuzz KAFKA_COLUMNS:", st.message());
    return new kpipe::RecordDecoder(std::move(schema).value(), kpipe::kPartitionFromKafkaTimestamp, {});
  }();
  return *instance;
}

// The input as a Kafka record: the payload up to the first '\x01', then the Kafka side: 8 bytes of
// timestamp (within years 0001..9999 unless the payload's length is a multiple of 7), one for the
// key's length (255: a null key), the key, and headers cut from the rest at '\n' (name) and '\t'
// (value; none: a null value). Names are not always UTF-8.
void check_kafka_record(std::string_view input) {
  kpipe::RawRecord record;
  const size_t split = std::min(input.find('\x01'), input.size());
  record.payload = input.substr(0, split);
  std::string_view rest = input.substr(std::min(split + 1, input.size()));
  record.topic = "events";
  record.timestamp_type = kpipe::KafkaTimestampType::kCreateTime;
  uint64_t raw = record.payload.size() * 86400000ULL;
  if (rest.size() >= 8) {
    std::memcpy(&raw, rest.data(), 8);
    rest.remove_prefix(8);
  }
  const uint64_t span = static_cast<uint64_t>(kpipe::kMaxTimestampMillis - kpipe::kMinTimestampMillis) + 1;
  record.timestamp_ms = record.payload.size() % 7 == 0 ? static_cast<int64_t>(raw)
                                                       : kpipe::kMinTimestampMillis + static_cast<int64_t>(raw % span);
  if (record.timestamp_ms == -1) record.timestamp_type = kpipe::KafkaTimestampType::kNone;
  if (!rest.empty()) {
    const auto length = static_cast<unsigned char>(rest[0]);
    rest.remove_prefix(1);
    record.has_key = length != 255;
    if (record.has_key) {
      record.key = rest.substr(0, std::min<size_t>(length, rest.size()));
      rest.remove_prefix(record.key.size());
    }
  }
  std::string headers;
  while (!rest.empty() && headers.size() < 4096) {
    const size_t name_end = std::min(rest.find('\n'), rest.size());
    const std::string_view name = rest.substr(0, name_end);
    rest.remove_prefix(std::min(name_end + 1, rest.size()));
    const size_t value_end = rest.find('\t');
    const bool null_value = value_end == std::string_view::npos;
    kpipe::PackedHeaders::append(headers, name, null_value ? std::string_view() : rest.substr(0, value_end),
                                 null_value);
    if (null_value) break;
    rest.remove_prefix(value_end + 1);
  }
  record.headers = headers;

  kpipe::RecordDecoder& d = kafka_decoder();
  d.add(record);
  if (d.good_rows() + d.bad_rows() != 1) fail("kafka: add() did not yield exactly one row or bad record");
  const bool good = d.good_rows() == 1;
  kpipe::Result<kpipe::DecodedBatch> batch = d.finish();
  if (!batch.ok()) fail("kafka: finish():", batch.status().message());
  if (!batch->rows->ValidateFull().ok()) fail("kafka: invalid batch:", batch->rows->ValidateFull().ToString());
  if (!good) return;
  const int32_t dt = batch->dt_days.at(0);
  if (dt < -719162 || dt > 2932896) fail("kafka: dt out of years 0001..9999");
  if (dt != kpipe::days_from_micros(record.timestamp_ms * 1000)) fail("kafka: dt is not the timestamp's date");
  const auto& keys = static_cast<const arrow::BinaryArray&>(*batch->rows->GetColumnByName("key"));
  if (keys.IsNull(0) == record.has_key || (record.has_key && keys.GetView(0) != record.key)) fail("kafka: key");
}

void check_timestamp(std::string_view text) {
  // A local time without zone reads as the same micros as a TIMESTAMP without zone (UTC).
  if (const std::optional<int64_t> ntz = kpipe::parse_timestamp_ntz_micros(text)) {
    if (kpipe::parse_timestamp_micros(text) != ntz) fail("TIMESTAMP_NTZ and TIMESTAMP disagree:", text);
  }
  if (const std::optional<int64_t> micros = kpipe::parse_timestamp_micros(text)) {
    if (*micros < kpipe::kMinTimestampMicros || *micros > kpipe::kMaxTimestampMicros) fail("timestamp out of range");
    char date[16];
    const int32_t days = kpipe::days_from_micros(*micros);
    const char* end = kpipe::format_date(days, date);
    if (kpipe::parse_date_days(std::string_view(date, end - date)) != days) fail("date does not round-trip");
  }
  if (const std::optional<int32_t> days = kpipe::parse_date_days(text)) {
    char date[16];
    const char* end = kpipe::format_date(*days, date);
    if (std::string_view(date, end - date) != text) fail("parse_date_days/format_date mismatch:", text);
  }
}

void check_ddl(std::string_view text) {
  kpipe::Result<kpipe::Schema> schema = kpipe::parse_ddl(text);
  if (!schema.ok()) {
    if (schema.status().message().rfind("SCHEMA: ", 0) != 0) fail("DDL error without SCHEMA prefix");
    return;
  }
  if (schema->columns.empty()) fail("empty schema accepted");
  if (static_cast<size_t>(schema->arrow_schema->num_fields()) != schema->columns.size()) fail("arrow schema size");
  for (const kpipe::ColumnSpec& column : schema->columns) {
    if (column.name.empty()) fail("empty column name accepted");
    if (schema->index_of(column.name) < 0) fail("index_of misses a column");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_decoder(decoder(), input);
  check_decoder(nested_decoder(), input);
  check_kafka_record(input);
  check_timestamp(input);
  check_decimal(input);
  check_base64(input);
  check_ddl(input);
  return 0;
}
