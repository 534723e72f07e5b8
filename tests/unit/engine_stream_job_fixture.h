// The fixture of the in-process engine tests: a StreamJob over a FakeSource in a temp directory,
// and what a user checks of its output (every event once in each sink, the Delta table holding
// exactly the folder's Parquet files, no hidden leftovers). engine_stream_job_test.cc and
// engine_group_job_test.cc.
#pragma once

#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "common/clock.h"
#include "delta/delta_log.h"
#include "engine/stream_job.h"
#include "engine_fake_source.h"

namespace kpipe {

namespace fs = std::filesystem;

const char* const kSteps[] = {"after_read",   "after_offsets",      "after_temp_files", "mid_rename",
                              "after_rename", "after_delta_commit", "after_commit"};

class StreamJobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kpipe-engine-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    opt_.topic = "events";
    opt_.output_path = (dir_ / "parquet").string();
    opt_.csv_output_path = (dir_ / "csv").string();
    opt_.checkpoint_path = (dir_ / "_checkpoint").string();
    opt_.dead_letter_path = (dir_ / "_dead_letter").string();
    opt_.sink_console = false;
    opt_.once = true;
    opt_.max_batch_records = 250;  // several batches
    opt_.max_records_per_file = 40;
    opt_.files_per_partition = 2;
  }
  void TearDown() override { fs::remove_all(dir_); }
  // A new topic's worth of state for the next case of a looping test.
  void start_over() {
    fs::remove_all(dir_);
    expected_.clear();
    produced_.clear();
    bad_ = 0;
  }

  // `n` events per partition over two days, and one bad record in partition 1.
  void produce(FakeSource& src, int partitions, int n) {
    for (int p = 0; p < partitions; ++p) {
      for (int i = 0; i < n; ++i) {
        std::string id = "p" + std::to_string(p) + "-" + std::to_string(i + produced_[p]);
        src.append(p, R"({"event_id":")" + id + R"(","ts":"2025-11-0)" + std::to_string(6 + i % 2) +
                          R"(T12:00:00Z","value":1.5,"source":"s"})");
        expected_.insert(id);
      }
      produced_[p] += n;
      if (p == 1) {
        src.append(p, "not json");
        ++bad_;
      }
    }
  }

  // Runs a job to its end on `src` (the job does not own it: a restart sees the same topic).
  Status run(FakeSource& src, CrashHook crash = nullptr, std::shared_ptr<FileSystem> fs = nullptr,
             std::optional<StreamOptions> opt = std::nullopt) {
    StreamSeams seams;
    seams.fs = fs ? fs : local_file_system();
    seams.source = std::make_unique<BorrowedSource>(src);
    seams.crash = std::move(crash);
    seams.clock = &clock_;
    StreamJob job(opt ? *opt : opt_, std::move(seams), std::make_shared<JobStatus>());
    std::atomic<bool> stop{false};
    return job.run(stop);
  }
  static CrashHook crash_at(std::string step, int64_t batch) {
    return [step, batch](const char* s, int64_t b) {
      if (s == step && b == batch) return Status::fatal("simulated crash at " + step, StatusCode::kAborted);
      return Status::success();
    };
  }

  // Event ids in every visible (not hidden) file of a sink, with repeats.
  std::multiset<std::string> csv_ids() const {
    std::multiset<std::string> ids;
    for (const auto& f : visible_files(opt_.csv_output_path)) {
      std::ifstream in(f);
      std::string line;
      std::getline(in, line);  // header
      while (std::getline(in, line)) {
        std::string id = line.substr(0, line.find(','));
        if (id.size() >= 2 && id.front() == '"') id = id.substr(1, id.size() - 2);
        ids.insert(id);
      }
    }
    return ids;
  }
  std::multiset<std::string> parquet_ids() const {
    std::multiset<std::string> ids;
    for (const auto& f : visible_files(opt_.output_path)) {
      auto input = arrow::io::ReadableFile::Open(f).ValueOrDie();
      auto reader = parquet::arrow::OpenFile(input, arrow::default_memory_pool()).ValueOrDie();
      auto read = reader->ReadTable();
      EXPECT_TRUE(read.ok()) << read.status().ToString();
      if (!read.ok()) continue;
      std::shared_ptr<arrow::Table> table = *read;
      auto column = table->GetColumnByName("event_id");
      for (const auto& chunk : column->chunks()) {
        const auto& strings = static_cast<const arrow::StringArray&>(*chunk);
        for (int64_t i = 0; i < strings.length(); ++i) ids.insert(std::string(strings.GetView(i)));
      }
    }
    return ids;
  }
  static std::vector<std::string> visible_files(const std::string& root) {
    std::vector<std::string> out;
    if (!fs::exists(root)) return out;
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      // As plain readers list a folder: nothing below a name starting with '.' or '_' (the
      // Delta log in _delta_log/ included).
      bool hidden = false;
      for (const auto& part : fs::relative(e.path(), root))
        hidden |= part.string()[0] == '.' || part.string()[0] == '_';
      if (e.is_regular_file() && !hidden) out.push_back(e.path().string());
    }
    return out;
  }
  static std::set<std::string> as_set(const std::multiset<std::string>& m) { return {m.begin(), m.end()}; }
  void expect_exactly_once() {
    auto pq = parquet_ids();
    auto csv = csv_ids();
    EXPECT_EQ(pq.size(), expected_.size()) << "Parquet rows";
    EXPECT_EQ(as_set(pq), expected_);
    EXPECT_EQ(csv.size(), expected_.size()) << "CSV rows";
    EXPECT_EQ(as_set(csv), expected_);
    size_t dead = 0;
    for (const auto& f : visible_files(opt_.dead_letter_path)) {
      std::ifstream in(f);
      std::string line;
      while (std::getline(in, line)) ++dead;
    }
    EXPECT_EQ(dead, bad_) << "dead-letter lines";
    // The Delta table holds exactly the Parquet files of the folder.
    if (opt_.sink_parquet && opt_.parquet_table_format == "delta") {
      auto table = load_snapshot(*local_file_system(), opt_.output_path);
      ASSERT_TRUE(table.ok()) << table.status().message();
      std::set<std::string> in_table, in_folder;
      for (const auto& [path, add] : table->files) in_table.insert(path);
      for (const auto& f : visible_files(opt_.output_path)) {
        in_folder.insert(fs::relative(f, opt_.output_path).string());
      }
      EXPECT_EQ(in_table, in_folder) << "Delta table files";
    }
    for (const auto& root : {opt_.output_path, opt_.csv_output_path}) {
      if (!fs::exists(root)) continue;
      for (const auto& e : fs::recursive_directory_iterator(root)) {
        EXPECT_NE(e.path().filename().string()[0], '.') << "hidden leftover " << e.path();
      }
    }
  }

  fs::path dir_;
  StreamOptions opt_;
  FakeClock clock_;
  std::set<std::string> expected_;
  std::map<int, int> produced_;
  size_t bad_ = 0;
};

}  // namespace kpipe
