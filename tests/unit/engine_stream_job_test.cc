// The engine in process: StreamJob with a fake source, the real local file system (behind
// FaultyFileSystem where a step must fail) and a crash hook that stops a batch where a SIGKILL
// would. The same promises as the real-broker tests (tests/integration/test_stream.py), in
// milliseconds: every record once in Parquet and in CSV, whatever fails and wherever it stops.
#include <arrow/io/file.h>
#include <gtest/gtest.h>
#include <parquet/arrow/reader.h>

#include <unistd.h>
#include "delta/delta_log.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "common/time_format.h"
#include "engine/stream_job.h"
#include "engine_fake_source.h"
#include "engine_stream_job_fixture.h"

namespace kpipe {
namespace {

TEST_F(StreamJobTest, OnceWritesEveryRecordOnceInEachSink) {
  FakeSource src(3);
  produce(src, 3, 300);
  Status st = run(src);
  ASSERT_TRUE(st.ok()) << st.message();
  expect_exactly_once();
  // 901 offsets in batches of at most 250 records.
  EXPECT_TRUE(fs::exists(opt_.checkpoint_path + "/commits/3"));
  EXPECT_FALSE(fs::exists(opt_.checkpoint_path + "/commits/4"));
}

// A kill while the Delta log's checkpoint (or _last_checkpoint) is being written leaves its temp
// file; the next start removes it as it removes the data files' temp files.
TEST_F(StreamJobTest, RestartRemovesTheTempFilesAKillLeftInTheDeltaLog) {
  opt_.parquet_table_format = "delta";
  FakeSource src(3);
  produce(src, 3, 100);
  ASSERT_TRUE(run(src).ok());
  const std::string log = opt_.output_path + "/_delta_log";
  ASSERT_TRUE(fs::exists(log));
  for (const char* name : {".00000000000000000010.checkpoint.parquet.tmp", "._last_checkpoint.tmp"}) {
    std::ofstream(log + "/" + name) << "half written";
  }
  produce(src, 3, 20);
  Status st = run(src);
  ASSERT_TRUE(st.ok()) << st.message();
  expect_exactly_once();
  for (const auto& e : fs::directory_iterator(log)) {
    EXPECT_NE(e.path().filename().string()[0], '.') << "left behind: " << e.path();
  }
}

TEST_F(StreamJobTest, WriteAheadEntryRecordsSinksDecodeSettingsAndFiles) {
  FakeSource src(2);
  produce(src, 2, 50);
  ASSERT_TRUE(run(src).ok());
  std::ifstream in(opt_.checkpoint_path + "/offsets/0");
  std::stringstream text;
  text << in.rdbuf();
  auto entry = parse_offsets(text.str(), "offsets/0");
  ASSERT_TRUE(entry.ok()) << entry.status().message();
  ASSERT_EQ(entry->sinks.size(), 3u);
  EXPECT_EQ(entry->sinks[0], (SinkSpec{"parquet", opt_.output_path, "snappy"}));
  EXPECT_EQ(entry->sinks[1], (SinkSpec{"csv", opt_.csv_output_path, ""}));
  EXPECT_EQ(entry->sinks[2], (SinkSpec{"dead-letter", opt_.dead_letter_path, ""}));
  ASSERT_TRUE(entry->decode);
  EXPECT_EQ(entry->decode->schema, opt_.schema);
  EXPECT_EQ(entry->decode->on_bad_record, "dlq");
  // The planned files are exactly the committed ones.
  std::ifstream cin(opt_.checkpoint_path + "/commits/0");
  std::stringstream ctext;
  ctext << cin.rdbuf();
  auto commit = parse_commit(ctext.str(), "commits/0");
  ASSERT_TRUE(commit.ok());
  EXPECT_EQ(entry->files, commit->files);
  EXPECT_FALSE(entry->files.empty());
}

// MAX_BATCH_BYTES: each batch ends at the record that reaches the limit, its write-ahead entry
// records what it read (contiguous with the next batch's), and a crash after the entry replays
// exactly those ranges even when the restart has another limit.
TEST_F(StreamJobTest, MaxBatchBytesEndsABatchAtTheLimitAndItsEntryRecordsWhatItRead) {
  auto entries = [&] {
    std::map<int64_t, OffsetsEntry> out;
    for (const auto& f : fs::directory_iterator(opt_.checkpoint_path + "/offsets")) {
      if (f.path().filename().string()[0] == '.') continue;
      std::ifstream in(f.path());
      std::stringstream text;
      text << in.rdbuf();
      auto e = parse_offsets(text.str(), f.path().string());
      EXPECT_TRUE(e.ok()) << e.status().message();
      if (e.ok()) out[e->batch_id] = *e;
    }
    return out;
  };
  FakeSource src(3);
  produce(src, 3, 200);  // 601 records of about 75 bytes (one bad one of 8)
  opt_.max_batch_records = 100'000;
  opt_.max_batch_bytes = 4'000;  // about 53 records
  ASSERT_EQ(run(src, crash_at("after_offsets", 4)).code(), StatusCode::kAborted);
  EXPECT_EQ(src.last_max_bytes(), 4'000);
  const auto before = entries();
  ASSERT_TRUE(before.count(4));
  StreamOptions wider = opt_;
  wider.max_batch_bytes = 1 << 20;
  ASSERT_TRUE(run(src, nullptr, nullptr, wider).ok());
  expect_exactly_once();

  const auto all = entries();
  EXPECT_EQ(all.at(4).ranges, before.at(4).ranges) << "the replay read the recorded ranges";
  ASSERT_TRUE(fs::exists(opt_.checkpoint_path + "/commits/4"));
  std::map<int32_t, int64_t> next;
  for (const auto& [id, e] : all) {
    int64_t records = 0;
    for (const auto& r : e.ranges) {
      EXPECT_EQ(r.start, next[r.partition]) << "batch " << id << " partition " << r.partition;
      next[r.partition] = r.end;
      records += r.end - r.start;
    }
    if (id <= 4) {  // under the 4,000-byte limit: 4,000 / 70 + the record that reached it
      EXPECT_GT(records, 0) << "batch " << id;
      EXPECT_LE(records, 4'000 / 70 + 1) << "batch " << id;
    }
  }
  // Batches 0-4 took about 265 of the 601 records; the 1 MiB limit takes the rest in one batch.
  EXPECT_EQ(all.rbegin()->first, 5);
  EXPECT_EQ(next, (std::map<int32_t, int64_t>{{0, 200}, {1, 201}, {2, 200}}));
}

TEST_F(StreamJobTest, CrashAtEachStepThenRestartIsExactlyOnce) {
  for (const char* step : kSteps) {
    SCOPED_TRACE(step);
    start_over();
    FakeSource src(3);
    produce(src, 3, 300);
    Status crashed = run(src, crash_at(step, 1));
    ASSERT_EQ(crashed.code(), StatusCode::kAborted) << crashed.message();
    produce(src, 3, 20);  // the producer goes on meanwhile
    Status st = run(src);
    ASSERT_TRUE(st.ok()) << st.message();
    expect_exactly_once();
  }
}

TEST_F(StreamJobTest, FailingFileSystemCallAtEachStepIsRetriedWithoutDuplicates) {
  using Op = FaultyFileSystem::Op;
  for (Op op :
       {Op::kWriteFile, Op::kRename, Op::kRenameNoReplace, Op::kFsyncDir, Op::kMakeDirs, Op::kListDir, Op::kRemove}) {
    for (int nth : {1, 3, 7}) {
      SCOPED_TRACE("op " + std::to_string(static_cast<int>(op)) + " call " + std::to_string(nth));
      start_over();
      FakeSource src(2);
      produce(src, 2, 200);
      auto faulty = std::make_shared<FaultyFileSystem>(local_file_system());
      faulty->fail_on(op, nth, Status::retriable("injected failure", StatusCode::kIoError));
      Status st = run(src, nullptr, faulty);
      ASSERT_TRUE(st.ok()) << st.message();
      expect_exactly_once();
    }
  }
}

TEST_F(StreamJobTest, FatalWriteStopsTheJobAndARestartFinishesIt) {
  FakeSource src(2);
  produce(src, 2, 200);
  auto faulty = std::make_shared<FaultyFileSystem>(local_file_system());
  faulty->fail_path_containing("/csv/", Status::fatal("injected: permission denied"), FaultyFileSystem::Op::kRename);
  Status st = run(src, nullptr, faulty);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("permission denied"), std::string::npos);
  ASSERT_TRUE(run(src).ok());
  expect_exactly_once();
}

TEST_F(StreamJobTest, SourceStallIsRetriedAndTheBatchIsReadAgain) {
  FakeSource src(2);
  produce(src, 2, 100);
  src.fail_reads(2, Status::retriable("broker not reachable", StatusCode::kUnavailable));
  ASSERT_TRUE(run(src).ok());
  expect_exactly_once();
  EXPECT_GE(src.reads(), 3);
}

TEST_F(StreamJobTest, RestartWithFewerSinksFinishesThePendingBatchAsRecorded) {
  FakeSource src(2);
  produce(src, 2, 300);
  ASSERT_EQ(run(src, crash_at("after_rename", 1)).code(), StatusCode::kAborted);
  StreamOptions parquet_only = opt_;
  parquet_only.sink_csv = false;
  ASSERT_TRUE(run(src, nullptr, nullptr, parquet_only).ok());
  // Parquet: everything once. CSV: batches 0 and 1 (the pending one, finished with its recorded
  // sinks), every file of them committed, nothing after.
  auto pq = parquet_ids();
  EXPECT_EQ(pq.size(), expected_.size());
  EXPECT_EQ(as_set(pq), expected_);
  auto csv = csv_ids();
  EXPECT_EQ(as_set(csv).size(), csv.size()) << "a CSV row twice";
  int64_t committed_csv_rows = 0;
  for (int id : {0, 1, 2}) {
    std::ifstream in(opt_.checkpoint_path + "/commits/" + std::to_string(id));
    std::stringstream text;
    text << in.rdbuf();
    auto commit = parse_commit(text.str(), "commits");
    ASSERT_TRUE(commit.ok()) << commit.status().message();
    for (const auto& f : commit->files) {
      if (f.sink != "csv") continue;
      EXPECT_LT(id, 2) << "batch 2 was planned without CSV: " << f.path;
      committed_csv_rows += f.rows;
    }
  }
  EXPECT_GT(committed_csv_rows, 0);
  EXPECT_EQ(static_cast<int64_t>(csv.size()), committed_csv_rows);
}

TEST_F(StreamJobTest, RestartWithOtherLayoutAndSchemaReplaysWithTheRecordedOnes) {
  FakeSource src(2);
  produce(src, 2, 100);
  opt_.max_batch_records = 100000;
  ASSERT_EQ(run(src, crash_at("mid_rename", 0)).code(), StatusCode::kAborted);
  StreamOptions changed = opt_;
  changed.max_records_per_file = 1000;
  changed.files_per_partition = 1;
  changed.schema = "event_id STRING, ts TIMESTAMP, value DOUBLE, source STRING, extra INT";
  ASSERT_TRUE(run(src, nullptr, nullptr, changed).ok());
  expect_exactly_once();
  // Batch 0 was planned with MAX_RECORDS_PER_FILE=40: its files hold at most 40 rows.
  for (const auto& f : visible_files(opt_.csv_output_path)) {
    std::ifstream in(f);
    int lines = 0;
    for (std::string l; std::getline(in, l);) ++lines;
    EXPECT_LE(lines - 1, 40) << f;
  }
}

TEST_F(StreamJobTest, SecondWriterOnALockedCheckpointStopsAtStart) {
  auto lock = lock_checkpoint(*local_file_system(), opt_.checkpoint_path);
  ASSERT_TRUE(lock.ok()) << lock.status().message();
  FakeSource src(1);
  produce(src, 1, 10);
  Status st = run(src);
  EXPECT_EQ(st.code(), StatusCode::kLocked);
  EXPECT_NE(st.message().find("CHECKPOINT_PATH=" + opt_.checkpoint_path + " is in use by another kpipe stream (pid " +
                              std::to_string(::getpid())),
            std::string::npos)
      << st.message();
  EXPECT_TRUE(visible_files(opt_.output_path).empty());
  lock->reset();  // the first writer ends: the next start takes over
  ASSERT_TRUE(run(src).ok());
  expect_exactly_once();
}

TEST_F(StreamJobTest, WithoutALockOfTwoWritersOnlyOneCreatesBatchN) {
  // A file system that cannot lock (NFS without lockd): both writers start; the create-if-absent
  // write-ahead entry decides. Writer B has read batch 0 when A runs to the end; B then loses.
  auto no_locks = std::make_shared<FaultyFileSystem>(local_file_system());
  no_locks->fail_path_containing("/lock", Status::fatal("no locks here", StatusCode::kUnavailable),
                                 FaultyFileSystem::Op::kLock);
  FakeSource src(2);
  produce(src, 2, 100);
  bool a_ran = false;
  Status b = run(
      src,
      [&](const char* step, int64_t batch) {
        if (std::string_view(step) == "after_read" && batch == 0 && !a_ran) {
          a_ran = true;
          Status a = run(src, nullptr, no_locks);
          EXPECT_TRUE(a.ok()) << a.message();
        }
        return Status::success();
      },
      no_locks);
  EXPECT_EQ(b.code(), StatusCode::kAlreadyExists) << b.message();
  EXPECT_NE(b.message().find("offsets/0"), std::string::npos) << b.message();
  expect_exactly_once();
}

// A store without rename and locks, as S3 is to the engine: the local disk behind it, every rename
// refused, is_object_store() true. And a fence that counts its checks (or says it lost).
class ObjectStoreLike final : public FaultyFileSystem {
 public:
  ObjectStoreLike() : FaultyFileSystem(local_file_system()) {
    fail_path_containing("", Status::fatal("rename on an object store", StatusCode::kInternal), Op::kRename);
    fail_path_containing("", Status::fatal("rename on an object store", StatusCode::kInternal), Op::kRenameNoReplace);
    fail_path_containing("", Status::fatal("an object store has no locks", StatusCode::kUnavailable), Op::kLock);
  }
  bool is_object_store(const std::string&) const override { return true; }
};

class CountingFence final : public WriterFence {
 public:
  explicit CountingFence(std::shared_ptr<int> checks, std::shared_ptr<bool> lost)
      : checks_(std::move(checks)), lost_(std::move(lost)) {}
  Status check(const std::string&, const std::vector<std::pair<int32_t, int64_t>>& offsets) override {
    EXPECT_FALSE(offsets.empty());
    ++*checks_;
    if (*lost_) return Status::fatal("another instance took over transactional.id x", StatusCode::kLocked);
    return Status::success();
  }

 private:
  std::shared_ptr<int> checks_;
  std::shared_ptr<bool> lost_;
};

TEST_F(StreamJobTest, OnAnObjectStoreFilesGoUnderFinalNamesAndEachStepChecksTheFence) {
  for (const char* step : kSteps) {
    SCOPED_TRACE(step);
    start_over();
    FakeSource src(3);
    produce(src, 3, 300);
    auto store = std::make_shared<ObjectStoreLike>();
    auto checks = std::make_shared<int>(0);
    auto lost = std::make_shared<bool>(false);
    auto run_on_store = [&](CrashHook crash) {
      StreamSeams seams;
      seams.fs = store;
      seams.source = std::make_unique<BorrowedSource>(src);
      seams.crash = std::move(crash);
      seams.clock = &clock_;
      seams.fence_grace = std::chrono::milliseconds(0);
      seams.acquire_fence = [&](const WriterFenceOptions& o) -> Result<std::unique_ptr<WriterFence>> {
        EXPECT_EQ(o.transactional_id, "kpipe:" + opt_.checkpoint_path);
        return std::unique_ptr<WriterFence>(std::make_unique<CountingFence>(checks, lost));
      };
      StreamJob job(opt_, std::move(seams), std::make_shared<JobStatus>());
      std::atomic<bool> stop{false};
      return job.run(stop);
    };
    Status crashed = run_on_store(crash_at(step, 1));
    ASSERT_EQ(crashed.code(), StatusCode::kAborted) << crashed.message();
    produce(src, 3, 20);
    Status st = run_on_store(nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    expect_exactly_once();
    EXPECT_EQ(store->calls(FaultyFileSystem::Op::kRename), 0);
    EXPECT_EQ(store->calls(FaultyFileSystem::Op::kLock), 0);
    EXPECT_GE(*checks, 2 * 4) << "a check before each write-ahead entry and each commit";
    // A writer that lost the fence stops before it writes the next entry.
    produce(src, 3, 50);
    *lost = true;
    const size_t entries = std::distance(fs::directory_iterator(dir_ / "_checkpoint" / "offsets"), {});
    Status fenced = run_on_store(nullptr);
    EXPECT_EQ(fenced.code(), StatusCode::kLocked) << fenced.message();
    EXPECT_NE(fenced.message().find("took over"), std::string::npos) << fenced.message();
    EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "_checkpoint" / "offsets"), {}), entries);
  }
}

// DT_COMPLETE_AFTER: with events of 2025-11-06 and 2025-11-07 in every partition, the first batch
// completes 11-06 (every partition's events reach 11-07 12:00) and the last one 11-07 (caught up,
// and the wall clock long past). Wherever a crash stops either, each day ends with one marker per
// sink, recorded by exactly one commits/N and one Delta commitInfo, naming the batch that wrote it.
TEST_F(StreamJobTest, DayMarkersAreWrittenAndRecordedOnceWhereverACrashStops) {
  opt_.dt_complete_after_seconds = 3600;
  const std::vector<std::string> days = {"2025-11-06", "2025-11-07"};
  std::vector<std::string> steps(std::begin(kSteps), std::end(kSteps));
  steps.push_back("after_markers");
  for (int64_t batch : {0, 3}) {
    for (const auto& step : steps) {
      SCOPED_TRACE(step + "@" + std::to_string(batch));
      start_over();
      FakeSource src(3);
      produce(src, 3, 300);  // batches 0..3
      ASSERT_EQ(run(src, crash_at(step, batch)).code(), StatusCode::kAborted);
      Status st = run(src);
      ASSERT_TRUE(st.ok()) << st.message();
      expect_exactly_once();
      std::map<std::string, int64_t> recorded_by;  // day → batch of the commit that records it
      for (const auto& f : fs::directory_iterator(opt_.checkpoint_path + "/commits")) {
        std::ifstream in(f.path());
        std::stringstream text;
        text << in.rdbuf();
        auto c = parse_commit(text.str(), f.path().string());
        if (!c.ok()) continue;  // a temp file
        ASSERT_TRUE(c->completed_days.has_value());
        for (int32_t d : *c->completed_days) {
          char buf[16];
          std::string day(buf, format_date(d, buf) - buf);
          EXPECT_FALSE(recorded_by.count(day)) << day << " recorded twice";
          recorded_by[day] = c->batch_id;
        }
      }
      EXPECT_EQ(recorded_by, (std::map<std::string, int64_t>{{days[0], 0}, {days[1], 3}}));
      std::string delta_infos;
      for (const auto& f : fs::directory_iterator(opt_.output_path + "/_delta_log")) {
        if (f.path().extension() != ".json") continue;
        std::ifstream in(f.path());
        std::string line;
        while (std::getline(in, line)) {
          if (line.rfind(R"({"commitInfo")", 0) == 0) delta_infos += line;
        }
      }
      for (const auto& day : days) {
        for (const auto& root : {opt_.output_path, opt_.csv_output_path}) {
          std::ifstream in(root + "/dt=" + day + "/_SUCCESS");
          std::stringstream body;
          body << in.rdbuf();
          EXPECT_NE(body.str().find(R"("batchId":)" + std::to_string(recorded_by[day]) + ","), std::string::npos)
              << root << " " << day << ": " << body.str();
        }
        size_t n = 0;
        for (auto at = delta_infos.find('"' + day + "\"]"); at != std::string::npos;
             at = delta_infos.find('"' + day + "\"]", at + 1))
          ++n;
        EXPECT_EQ(n, 1u) << day << " in the Delta commitInfos: " << delta_infos;
      }
    }
  }
}

}  // namespace
}  // namespace kpipe
