#include "decode/record_decoder.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include <arrow/builder.h>
#include <arrow/type.h>

#include "decode/kafka_columns.h"
#include "decode/record_parser.h"
#include "decode/row_appender.h"
#include "decode/timestamp.h"

namespace kpipe {
namespace {

// Arrow's utf8 arrays use int32 offsets; a builder refuses data past this.
constexpr int64_t kMaxStringColumnBytes = std::numeric_limits<int32_t>::max() - 1;
// A record may hold this many values (tape slots) at least, or one per byte of MAX_RECORD_BYTES.
constexpr size_t kMinRecordValues = 65536;
// Rows reserved at a batch's start at least (the last batch's count when larger).
constexpr int64_t kMinReservedRows = 1024;

constexpr int64_t kMicrosPerDate = int64_t{86400} * 1000 * 1000;

// The partition column must be checked before RecordParser, which indexes by it.
size_t checked_partition_column(const Schema& schema, int partition_column) {
  if (partition_column == kPartitionFromKafkaTimestamp) return SIZE_MAX;  // RecordParser: no such column
  if (partition_column < 0 || static_cast<size_t>(partition_column) >= schema.columns.size()) {
    throw std::invalid_argument("RecordDecoder: partition column index out of range");
  }
  const ColumnType type = schema.columns[static_cast<size_t>(partition_column)].type;
  if (type != ColumnType::kTimestamp && type != ColumnType::kDate) {
    throw std::invalid_argument("RecordDecoder: partition column must be TIMESTAMP or DATE");
  }
  if (!schema.arrow_schema || static_cast<size_t>(schema.arrow_schema->num_fields()) != schema.columns.size()) {
    throw std::invalid_argument("RecordDecoder: schema.arrow_schema does not match the columns");
  }
  return static_cast<size_t>(partition_column);
}

}  // namespace

class RecordDecoder::Impl {
 public:
  Impl(Schema schema, int partition_column, DecodeLimits limits, arrow::MemoryPool* pool)
      : schema_(std::move(schema)),
        limits_(limits),
        partition_column_(checked_partition_column(schema_, partition_column)),
        partition_type_(partition_column_ == SIZE_MAX ? ColumnType::kTimestamp
                                                      : schema_.columns[partition_column_].type),
        parser_(schema_.columns, partition_column_, limits.max_string_bytes,
                std::max(kMinRecordValues, limits.max_record_bytes)),
        appender_(parser_.tree(), *schema_.arrow_schema, pool) {
    for (size_t i = 0; i < schema_.columns.size(); ++i) {
      const ColumnSpec& column = schema_.columns[i];
      if (column.kafka != KafkaField::kNone) {
        kafka_columns_.push_back(i);
      } else if (column.type == ColumnType::kString) {
        string_columns_.push_back(i);
      }
    }
  }

  void add(const RawRecord& record) {
    // Reserved at the batch's first record, not when the previous batch finished: the previous
    // batch's rows are written and released by then, so the two never take memory at once.
    if (reserve_pending_) [[unlikely]] {
      reserve_pending_ = false;
      reserve_for_next_batch();
    }
    if (!builder_error_.ok()) return;  // the batch is lost anyway; finish() reports why
    const std::string_view payload = record.payload;
    if (payload.empty()) return reject(record, "empty message");
    if (payload.size() > limits_.max_record_bytes) {
      return reject(record, "record is " + std::to_string(payload.size()) +
                                " bytes, over MAX_RECORD_BYTES=" + std::to_string(limits_.max_record_bytes));
    }
    if (!parser_.parse(payload)) return reject(record, std::move(parser_.reason()));
    // The Kafka part of the row (KAFKA_COLUMNS, PARTITION_FROM=timestamp) once the JSON part is good.
    std::string& reason = parser_.reason();
    for (size_t column : kafka_columns_) {
      if (!check_kafka_column(schema_.columns[column], record, reason)) return reject(record, std::move(reason));
    }
    int64_t event_us = 0;
    if (partition_column_ == SIZE_MAX && !kafka_event_time(record, event_us, reason)) {
      return reject(record, std::move(reason));
    }
    append_row(record, parser_.tape(), event_us);
  }

  size_t good_rows() const { return good_rows_; }
  size_t bad_rows() const { return bad_.size(); }

  size_t buffered_bytes() const { return dt_days_.size() * sizeof(int32_t) + appender_.buffered_bytes(); }

  Result<DecodedBatch> finish() {
    if (!builder_error_.ok()) {
      Status error = std::move(builder_error_);
      reset();
      return error;
    }
    arrow::ArrayVector arrays;
    const arrow::Status st = appender_.finish(arrays);
    if (!st.ok()) {
      reset();
      return Status::fatal("decoding batch: " + st.ToString());
    }
    DecodedBatch batch;
    batch.rows = arrow::RecordBatch::Make(schema_.arrow_schema, static_cast<int64_t>(good_rows_), std::move(arrays));
    batch.dt_days = std::move(dt_days_);
    batch.max_event_us = max_event_us_;
    batch.bad = std::move(bad_);
    last_rows_ = static_cast<int64_t>(good_rows_);
    reset();
    return batch;
  }

 private:
  void reject(const RawRecord& record, std::string reason) {
    BadRecord bad;
    bad.partition = record.partition;
    bad.offset = record.offset;
    bad.timestamp_ms = record.timestamp_ms;
    bad.reason = std::move(reason);
    bad.payload.assign(record.payload.data(), record.payload.size());
    bad_.push_back(std::move(bad));
  }

  void append_row(const RawRecord& record, const std::vector<Slot>& tape, int64_t event_us) {
    // Checked before any append so a row is either fully in the builders or not at all. Nested
    // strings are not pre-checked: a builder over the limit fails the append and the batch.
    for (size_t column : string_columns_) {
      const Slot& slot = tape[column];
      auto* builder = static_cast<arrow::StringBuilder*>(appender_.column_builder(column));
      if (slot.state == SlotState::kValue &&
          builder->value_data_length() + static_cast<int64_t>(slot.string_value.size()) > kMaxStringColumnBytes) {
        builder_error_ = Status::fatal("decoding batch: column '" + schema_.columns[column].name +
                                       "' holds over 2 GiB of string data, Arrow's limit for one batch; lower "
                                       "MAX_OFFSETS_PER_TRIGGER");
        return;
      }
    }
    for (size_t column : kafka_columns_) {
      if (!kafka_column_fits(schema_.columns[column], record, *appender_.column_builder(column))) {
        builder_error_ = Status::fatal("decoding batch: column '" + schema_.columns[column].name +
                                       "' holds over 2 GiB of data, Arrow's limit for one batch; lower "
                                       "MAX_OFFSETS_PER_TRIGGER");
        return;
      }
    }
    for (size_t column = 0; column < schema_.columns.size(); ++column) {
      if (schema_.columns[column].kafka != KafkaField::kNone) continue;
      const arrow::Status st = appender_.append(static_cast<uint32_t>(column) + 1, tape, static_cast<uint32_t>(column));
      if (!st.ok()) return builder_failed(column, st);
    }
    for (size_t column : kafka_columns_) {  // KAFKA_COLUMNS: see append_kafka_column
      const arrow::Status st = append_kafka_column(schema_.columns[column], record, appender_.column_builder(column));
      if (!st.ok()) return builder_failed(column, st);
    }
    if (partition_column_ != SIZE_MAX) {  // else event_us is the Kafka timestamp (PARTITION_FROM=timestamp)
      const int64_t value = tape[partition_column_].int_value;
      event_us = partition_type_ == ColumnType::kTimestamp ? value : value * kMicrosPerDate;
    }
    dt_days_.push_back(days_from_micros(event_us));
    if (good_rows_ == 0 || event_us > max_event_us_) max_event_us_ = event_us;
    ++good_rows_;
  }

  // A builder failed mid-row (out of memory, or over an Arrow limit): the batch cannot be
  // finished consistently, so it is lost and finish() says why.
  void builder_failed(size_t column, const arrow::Status& st) {
    std::string hint = st.IsCapacityError() ? "; lower MAX_OFFSETS_PER_TRIGGER" : "";
    builder_error_ = Status::fatal("decoding batch: appending to column '" + schema_.columns[column].name +
                                   "': " + st.ToString() + hint);
  }

  void reset() {
    appender_.reset();
    dt_days_ = {};
    bad_ = {};
    good_rows_ = 0;
    builder_error_ = Status::success();
    reserve_pending_ = true;
  }

  void reserve_for_next_batch() {
    dt_days_.reserve(static_cast<size_t>(std::max<int64_t>(last_rows_, kMinReservedRows)));
    const arrow::Status st = appender_.reserve(kMinReservedRows);
    if (!st.ok()) builder_error_ = Status::fatal("decoding batch: reserving memory: " + st.ToString());
  }

  Schema schema_;
  DecodeLimits limits_;
  size_t partition_column_;  // SIZE_MAX: dt from the Kafka record's timestamp
  ColumnType partition_type_;
  RecordParser parser_;
  RowAppender appender_;
  std::vector<size_t> string_columns_;  // top-level STRING columns, checked against Arrow's 2 GiB limit
  std::vector<size_t> kafka_columns_;   // KAFKA_COLUMNS, appended from the Kafka record

  std::vector<int32_t> dt_days_;
  int64_t max_event_us_ = 0;  // of the good rows so far
  std::vector<BadRecord> bad_;
  size_t good_rows_ = 0;
  int64_t last_rows_ = 0;        // rows of the previous batch: the next one's capacity hint
  Status builder_error_;         // a builder failed: the batch is lost, finish() says why
  bool reserve_pending_ = true;  // reserve_for_next_batch() at the next add()
};

RecordDecoder::RecordDecoder(Schema schema, int partition_column, DecodeLimits limits, arrow::MemoryPool* pool)
    : impl_(std::make_unique<Impl>(std::move(schema), partition_column, limits, pool)) {}
RecordDecoder::~RecordDecoder() = default;
RecordDecoder::RecordDecoder(RecordDecoder&&) noexcept = default;
RecordDecoder& RecordDecoder::operator=(RecordDecoder&&) noexcept = default;

void RecordDecoder::add(const RawRecord& record) { impl_->add(record); }
size_t RecordDecoder::good_rows() const { return impl_->good_rows(); }
size_t RecordDecoder::bad_rows() const { return impl_->bad_rows(); }
size_t RecordDecoder::buffered_bytes() const { return impl_->buffered_bytes(); }
Result<DecodedBatch> RecordDecoder::finish() { return impl_->finish(); }

}  // namespace kpipe
