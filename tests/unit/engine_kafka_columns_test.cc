// KAFKA_COLUMNS and PARTITION_FROM=timestamp through the whole engine: StreamJob on a fake source
// whose records carry keys, headers and timestamps, Parquet read back, day markers from Kafka
// time, the write-ahead entry's recorded setting on a replay, and settings errors before anything.
#include <arrow/io/file.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/time_format.h"
#include "engine/stream_job.h"
#include "engine_fake_source.h"

namespace kpipe {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr int64_t kDay0Ms = 1762430400000;  // 2025-11-06T12:00:00Z
constexpr int64_t kDayMs = 86400000;

class KafkaColumnsJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kpipe-kafkacols-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    opt_.topic = "events";
    opt_.output_path = (dir_ / "parquet").string();
    opt_.csv_output_path = (dir_ / "csv").string();
    opt_.checkpoint_path = (dir_ / "_checkpoint").string();
    opt_.dead_letter_path = (dir_ / "_dead_letter").string();
    opt_.sink_console = false;
    opt_.sink_csv = false;
    opt_.once = true;
    opt_.max_batch_records = 100;  // several batches
    opt_.schema = "id STRING, n INT";
    opt_.partition_from = "timestamp";
    opt_.kafka_columns = "key,topic,partition,offset,timestamp,timestampType,headers";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // What one record was sent with, by id.
  struct Sent {
    int32_t partition;
    int64_t offset;
    std::optional<std::string> key;
    std::string headers;
    int64_t timestamp_ms;
  };

  // `n` records per partition: the first half on 2025-11-06 by Kafka time, the rest on 11-07;
  // keys null, empty or bytes in turn; every other record with two headers (one null value).
  void produce(FakeSource& src, int partitions, int n) {
    for (int32_t p = 0; p < partitions; ++p) {
      for (int i = 0; i < n; ++i) {
        const std::string id = "p" + std::to_string(p) + "-" + std::to_string(i);
        FakeSource::Meta meta;
        if (i % 3 == 1) meta.key = "";
        if (i % 3 == 2) meta.key = std::string("k\0", 2) + id;
        if (i % 2 == 0) {
          PackedHeaders::append(meta.headers, "trace", id);
          PackedHeaders::append(meta.headers, "gone", "", true);
        }
        meta.timestamp_ms = kDay0Ms + (i < n / 2 ? 0 : kDayMs) + i * 1000;
        sent_[id] = Sent{p, i, meta.key, meta.headers, *meta.timestamp_ms};
        src.append(p, R"({"id":")" + id + R"(","n":)" + std::to_string(i) + "}", meta);
      }
    }
  }

  Status run(FakeSource& src, const StreamOptions& opt, CrashHook crash = nullptr) {
    StreamSeams seams;
    seams.fs = local_file_system();
    seams.source = std::make_unique<BorrowedSource>(src);
    seams.crash = std::move(crash);
    seams.clock = &clock_;
    StreamJob job(opt, std::move(seams), std::make_shared<JobStatus>());
    std::atomic<bool> stop{false};
    return job.run(stop);
  }

  // Every visible Parquet file of the output, with the dt folder it is in.
  std::vector<std::pair<std::string, std::shared_ptr<arrow::Table>>> parquet_tables() const {
    std::vector<std::pair<std::string, std::shared_ptr<arrow::Table>>> out;
    for (const auto& e : fs::recursive_directory_iterator(opt_.output_path)) {
      const std::string rel = fs::relative(e.path(), opt_.output_path).string();
      if (!e.is_regular_file() || rel[0] == '_' || e.path().filename().string()[0] == '.' ||
          e.path().extension() != ".parquet") {
        continue;
      }
      auto input = arrow::io::ReadableFile::Open(e.path().string()).ValueOrDie();
      auto reader = parquet::arrow::OpenFile(input, arrow::default_memory_pool()).ValueOrDie();
      auto table = reader->ReadTable();
      EXPECT_TRUE(table.ok()) << table.status().ToString();
      if (table.ok()) out.emplace_back(rel, (*table)->CombineChunks().ValueOrDie());
    }
    return out;
  }

  fs::path dir_;
  StreamOptions opt_;
  FakeClock clock_;
  std::map<std::string, Sent> sent_;
};

std::string date_of_ms(int64_t ms) {
  char buf[16];
  return std::string(buf, format_date(ms / kDayMs, buf) - buf);
}

TEST_F(KafkaColumnsJobTest, ColumnsHoldTheRecordsValuesAndDtIsTheKafkaDate) {
  opt_.dt_complete_after_seconds = 3600;
  FakeSource src(2);
  produce(src, 2, 240);
  FakeSource::Meta no_time;
  no_time.timestamp_ms = -1;
  no_time.timestamp_type = KafkaTimestampType::kNone;
  src.append(1, R"({"id":"no-time","n":0})", no_time);
  Status st = run(src, opt_);
  ASSERT_TRUE(st.ok()) << st.message();

  std::map<std::string, int> seen;
  for (const auto& [path, table] : parquet_tables()) {
    ASSERT_EQ(table->schema()->field_names(),
              (std::vector<std::string>{"id", "n", "key", "topic", "partition", "offset", "timestamp", "timestampType",
                                        "headers"}));
    const auto& ids = static_cast<const arrow::StringArray&>(*table->column(0)->chunk(0));
    const auto& keys = static_cast<const arrow::BinaryArray&>(*table->column(2)->chunk(0));
    const auto& topics = static_cast<const arrow::StringArray&>(*table->column(3)->chunk(0));
    const auto& partitions = static_cast<const arrow::Int32Array&>(*table->column(4)->chunk(0));
    const auto& offsets = static_cast<const arrow::Int64Array&>(*table->column(5)->chunk(0));
    const auto& times = static_cast<const arrow::TimestampArray&>(*table->column(6)->chunk(0));
    const auto& types = static_cast<const arrow::Int32Array&>(*table->column(7)->chunk(0));
    const auto& headers = static_cast<const arrow::ListArray&>(*table->column(8)->chunk(0));
    const auto& header = static_cast<const arrow::StructArray&>(*headers.values());
    const auto& names = static_cast<const arrow::StringArray&>(*header.field(0));
    const auto& values = static_cast<const arrow::BinaryArray&>(*header.field(1));
    for (int64_t i = 0; i < table->num_rows(); ++i) {
      const std::string id(ids.GetView(i));
      SCOPED_TRACE(id);
      ASSERT_TRUE(sent_.count(id));
      const Sent& s = sent_[id];
      ++seen[id];
      EXPECT_EQ(path.substr(0, 13), "dt=" + date_of_ms(s.timestamp_ms)) << path;
      EXPECT_EQ(keys.IsNull(i), !s.key.has_value());
      EXPECT_EQ(std::string(keys.GetView(i)), s.key.value_or(""));
      EXPECT_EQ(topics.GetView(i), "events");
      EXPECT_EQ(partitions.Value(i), s.partition);
      EXPECT_EQ(offsets.Value(i), s.offset);
      EXPECT_EQ(times.Value(i), s.timestamp_ms * 1000);
      EXPECT_EQ(types.Value(i), 0);
      if (s.headers.empty()) {
        EXPECT_TRUE(headers.IsNull(i));
        continue;
      }
      ASSERT_EQ(headers.value_length(i), 2);
      const int64_t h = headers.value_offset(i);
      EXPECT_EQ(names.GetView(h), "trace");
      EXPECT_EQ(values.GetView(h), id);
      EXPECT_EQ(names.GetView(h + 1), "gone");
      EXPECT_TRUE(values.IsNull(h + 1));
    }
  }
  EXPECT_EQ(seen.size(), sent_.size());
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;

  // The record without a timestamp has no dt: dead-lettered, with the reason.
  std::string dead;
  for (const auto& e : fs::recursive_directory_iterator(opt_.dead_letter_path)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path());
    std::stringstream text;
    text << in.rdbuf();
    dead += text.str();
  }
  EXPECT_THAT(dead, HasSubstr("no Kafka timestamp"));

  // DT_COMPLETE_AFTER runs on Kafka time: both days are complete (11-06 by the watermarks, 11-07
  // caught up with the clock long past it).
  EXPECT_TRUE(fs::exists(opt_.output_path + "/dt=2025-11-06/_SUCCESS"));
  EXPECT_TRUE(fs::exists(opt_.output_path + "/dt=2025-11-07/_SUCCESS"));
  // And the write-ahead entries record the setting.
  std::ifstream first(opt_.checkpoint_path + "/offsets/0");
  std::stringstream entry;
  entry << first.rdbuf();
  EXPECT_THAT(entry.str(), HasSubstr(R"("partitionFrom":"timestamp")"));
  EXPECT_THAT(entry.str(), HasSubstr(R"("kafkaColumns":"key,topic,partition,offset,timestamp,timestampType,headers")"));
}

// A batch planned with KAFKA_COLUMNS=offset and replayed after a restart without it is written with
// the recorded setting (the same files as the first attempt would have); the next batches get the
// new one.
TEST_F(KafkaColumnsJobTest, AReplayDecodesWithTheRecordedKafkaColumns) {
  opt_.parquet_table_format = "none";  // the table would refuse a column dropped between batches
  opt_.kafka_columns = "offset";
  FakeSource src(1);
  produce(src, 1, 300);
  auto crash = [](const char* step, int64_t batch) {
    if (std::string(step) == "after_offsets" && batch == 0)
      return Status::fatal("simulated crash", StatusCode::kAborted);
    return Status::success();
  };
  ASSERT_EQ(run(src, opt_, crash).code(), StatusCode::kAborted);
  StreamOptions restart = opt_;
  restart.kafka_columns = "";
  Status st = run(src, restart);
  ASSERT_TRUE(st.ok()) << st.message();

  int with_offset = 0, without = 0;
  int64_t rows = 0;
  for (const auto& [path, table] : parquet_tables()) {
    rows += table->num_rows();
    const bool batch0 = path.find("-00000-") != std::string::npos;
    const bool has_offset = table->schema()->GetFieldIndex("offset") >= 0;
    EXPECT_EQ(has_offset, batch0) << path;
    (has_offset ? with_offset : without) += 1;
  }
  EXPECT_EQ(rows, 300);
  EXPECT_GT(with_offset, 0);
  EXPECT_GT(without, 0);
}

TEST_F(KafkaColumnsJobTest, ABadSettingStopsTheJobBeforeAnythingIsWritten) {
  FakeSource src(1);
  produce(src, 1, 10);
  StreamOptions unknown = opt_;
  unknown.kafka_columns = "key, keys";
  Status st = run(src, unknown);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("KAFKA_COLUMNS: unknown column 'keys'"));

  StreamOptions clash = opt_;
  clash.schema = "id STRING, Offset BIGINT";
  clash.kafka_columns = "offset";
  st = run(src, clash);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("'offset' is also a column of SCHEMA"));

  StreamOptions no_time = opt_;
  no_time.partition_from = "when";
  st = run(src, no_time);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("PARTITION_FROM=timestamp"));
  EXPECT_FALSE(fs::exists(opt_.checkpoint_path)) << "nothing written for a bad setting";
}

}  // namespace
}  // namespace kpipe
