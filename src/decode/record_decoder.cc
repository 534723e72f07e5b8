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
#include "decode/timestamp.h"

namespace kpipe {
namespace {

// Arrow's utf8 arrays use int32 offsets; a builder refuses data past this.
constexpr int64_t kMaxStringColumnBytes = std::numeric_limits<int32_t>::max() - 1;
// Upper bounds for the capacity carried from one batch to the next.
constexpr int64_t kMaxReservedRows = 1 << 20;
constexpr int64_t kMaxReservedStringBytes = 64 << 20;
constexpr int64_t kMicrosPerDate = int64_t{86400} * 1000 * 1000;

std::unique_ptr<arrow::ArrayBuilder> make_builder(ColumnType type, arrow::MemoryPool* pool) {
  switch (type) {
    case ColumnType::kString: return std::make_unique<arrow::StringBuilder>(pool);
    case ColumnType::kInt64: return std::make_unique<arrow::Int64Builder>(pool);
    case ColumnType::kInt32: return std::make_unique<arrow::Int32Builder>(pool);
    case ColumnType::kDouble: return std::make_unique<arrow::DoubleBuilder>(pool);
    case ColumnType::kFloat: return std::make_unique<arrow::FloatBuilder>(pool);
    case ColumnType::kBoolean: return std::make_unique<arrow::BooleanBuilder>(pool);
    case ColumnType::kTimestamp:
      return std::make_unique<arrow::TimestampBuilder>(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"), pool);
    case ColumnType::kDate: return std::make_unique<arrow::Date32Builder>(pool);
    default: break;  // nested and the newer types: not decoded yet
  }
  throw std::invalid_argument("RecordDecoder: unknown column type");
}

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
        payload_columns_(payload_column_count(schema_.columns)),
        parser_(std::vector<ColumnSpec>(schema_.columns.begin(), schema_.columns.begin() + payload_columns_),
                partition_column_, limits.max_string_bytes) {
    last_string_bytes_.resize(schema_.columns.size());
    for (size_t i = 0; i < schema_.columns.size(); ++i) {
      builders_.push_back(i < payload_columns_ ? make_builder(schema_.columns[i].type, pool)
                                               : make_kafka_builder(schema_.columns[i], pool));
      if (i < payload_columns_ && schema_.columns[i].type == ColumnType::kString) string_columns_.push_back(i);
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
    for (size_t i = payload_columns_; i < schema_.columns.size(); ++i) {
      if (!check_kafka_column(schema_.columns[i], record, reason)) return reject(record, std::move(reason));
    }
    int64_t event_us = 0;
    if (partition_column_ == SIZE_MAX && !kafka_event_time(record, event_us, reason)) {
      return reject(record, std::move(reason));
    }
    append_row(parser_.slots(), record, event_us);
  }

  size_t good_rows() const { return good_rows_; }
  size_t bad_rows() const { return bad_.size(); }

  size_t buffered_bytes() const {
    size_t bytes = dt_days_.size() * sizeof(int32_t);
    for (size_t i = 0; i < schema_.columns.size(); ++i) {
      const auto length = static_cast<size_t>(builders_[i]->length());
      if (i >= payload_columns_) {
        bytes += kafka_column_bytes(schema_.columns[i], *builders_[i]);
      } else if (schema_.columns[i].type == ColumnType::kString) {
        auto* builder = static_cast<arrow::StringBuilder*>(builders_[i].get());
        bytes += length * sizeof(int32_t) + static_cast<size_t>(builder->value_data_length());
      } else {
        bytes += length * 8;
      }
    }
    return bytes;
  }

  Result<DecodedBatch> finish() {
    if (!builder_error_.ok()) {
      Status error = std::move(builder_error_);
      reset();
      return error;
    }
    arrow::ArrayVector arrays(builders_.size());
    for (size_t i = 0; i < builders_.size(); ++i) {
      if (schema_.columns[i].type == ColumnType::kString) {
        last_string_bytes_[i] = static_cast<arrow::StringBuilder*>(builders_[i].get())->value_data_length();
      }
      const arrow::Status st = builders_[i]->Finish(&arrays[i]);
      if (!st.ok()) {
        reset();
        return Status::fatal("decoding batch: finishing column '" + schema_.columns[i].name + "': " + st.ToString());
      }
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

  void append_row(const std::vector<Slot>& slots, const RawRecord& record, int64_t event_us) {
    // Checked before any append so a row is either fully in the builders or not at all.
    for (size_t column : string_columns_) {
      const Slot& slot = slots[column];
      auto* builder = static_cast<arrow::StringBuilder*>(builders_[column].get());
      if (slot.state == SlotState::kValue &&
          builder->value_data_length() + static_cast<int64_t>(slot.string_value.size()) > kMaxStringColumnBytes) {
        builder_error_ = Status::fatal("decoding batch: column '" + schema_.columns[column].name +
                                       "' holds over 2 GiB of string data, Arrow's limit for one batch; lower "
                                       "MAX_OFFSETS_PER_TRIGGER");
        return;
      }
    }
    for (size_t column = payload_columns_; column < schema_.columns.size(); ++column) {
      if (!kafka_column_fits(schema_.columns[column], record, *builders_[column])) {
        builder_error_ = Status::fatal("decoding batch: column '" + schema_.columns[column].name +
                                       "' holds over 2 GiB of data, Arrow's limit for one batch; lower "
                                       "MAX_OFFSETS_PER_TRIGGER");
        return;
      }
    }
    arrow::Status st;
    for (size_t column = 0; column < schema_.columns.size() && st.ok(); ++column) {
      arrow::ArrayBuilder* builder = builders_[column].get();
      if (column >= payload_columns_) {
        st = append_kafka_column(schema_.columns[column], record, builder);
        continue;
      }
      const Slot& slot = slots[column];
      if (slot.state != SlotState::kValue) {
        st = builder->AppendNull();
        continue;
      }
      switch (schema_.columns[column].type) {
        case ColumnType::kString: st = static_cast<arrow::StringBuilder*>(builder)->Append(slot.string_value); break;
        case ColumnType::kInt64: st = static_cast<arrow::Int64Builder*>(builder)->Append(slot.int_value); break;
        case ColumnType::kInt32:
          st = static_cast<arrow::Int32Builder*>(builder)->Append(static_cast<int32_t>(slot.int_value));
          break;
        case ColumnType::kDouble: st = static_cast<arrow::DoubleBuilder*>(builder)->Append(slot.double_value); break;
        case ColumnType::kFloat:
          st = static_cast<arrow::FloatBuilder*>(builder)->Append(static_cast<float>(slot.double_value));
          break;
        case ColumnType::kBoolean:
          st = static_cast<arrow::BooleanBuilder*>(builder)->Append(slot.int_value != 0);
          break;
        case ColumnType::kTimestamp: st = static_cast<arrow::TimestampBuilder*>(builder)->Append(slot.int_value); break;
        case ColumnType::kDate:
          st = static_cast<arrow::Date32Builder*>(builder)->Append(static_cast<int32_t>(slot.int_value));
          break;
        default: st = arrow::Status::NotImplemented("column type"); break;
      }
    }
    if (!st.ok()) {
      builder_error_ = Status::fatal("decoding batch: appending a row: " + st.ToString());
      return;
    }
    if (partition_column_ != SIZE_MAX) {
      const int64_t value = slots[partition_column_].int_value;
      event_us = partition_type_ == ColumnType::kTimestamp ? value : value * kMicrosPerDate;
    }
    dt_days_.push_back(days_from_micros(event_us));
    if (good_rows_ == 0 || event_us > max_event_us_) max_event_us_ = event_us;
    ++good_rows_;
  }

  void reset() {
    for (auto& builder : builders_) builder->Reset();
    dt_days_ = {};
    bad_ = {};
    good_rows_ = 0;
    builder_error_ = Status::success();
    reserve_pending_ = true;
  }

  // Arrow's Finish() hands the buffers to the arrays, so capacity cannot be kept as such; the last
  // batch's size (bounded) is the best guess for the next one and saves the doubling copies.
  void reserve_for_next_batch() {
    const int64_t rows = std::clamp<int64_t>(last_rows_, 1024, kMaxReservedRows);
    dt_days_.reserve(static_cast<size_t>(rows));
    for (size_t i = 0; i < builders_.size() && builder_error_.ok(); ++i) {
      arrow::Status st = builders_[i]->Reserve(rows);
      if (st.ok() && schema_.columns[i].type == ColumnType::kString) {
        st = static_cast<arrow::StringBuilder*>(builders_[i].get())
                 ->ReserveData(std::clamp<int64_t>(last_string_bytes_[i], 32 * 1024, kMaxReservedStringBytes));
      }
      if (!st.ok()) builder_error_ = Status::fatal("decoding batch: reserving memory: " + st.ToString());
    }
  }

  Schema schema_;
  DecodeLimits limits_;
  size_t partition_column_;  // SIZE_MAX: dt from the Kafka record's timestamp
  ColumnType partition_type_;
  size_t payload_columns_;  // columns filled from the JSON payload; the Kafka columns follow them
  RecordParser parser_;
  std::vector<std::unique_ptr<arrow::ArrayBuilder>> builders_;
  std::vector<size_t> string_columns_;  // checked against Arrow's 2 GiB limit before a row

  std::vector<int32_t> dt_days_;
  int64_t max_event_us_ = 0;  // of the good rows so far
  std::vector<BadRecord> bad_;
  size_t good_rows_ = 0;
  int64_t last_rows_ = 0;                   // rows of the previous batch: the next one's capacity hint
  std::vector<int64_t> last_string_bytes_;  // per column, the same for string data
  Status builder_error_;                    // a builder failed: the batch is lost, finish() says why
  bool reserve_pending_ = true;             // reserve_for_next_batch() at the next add()
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
