#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/checkpoint.h"

namespace kpipe {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kpipe-ckpt-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<Checkpoint> open(const std::string& topic = "events") {
    auto cp = Checkpoint::open(local_file_system(), dir_.string(), topic);
    EXPECT_TRUE(cp.ok()) << cp.status().message();
    return cp.ok() ? std::move(cp).value() : nullptr;
  }
  static OffsetsEntry entry(int64_t id) {
    OffsetsEntry e;
    e.batch_id = id;
    e.planned_at_ms = 1700000000000 + id;
    e.topic = "events";
    e.ranges = {{0, id * 10, id * 10 + 10}, {1, 5, 5}};
    e.layout = FileLayout{2, 777};
    return e;
  }
  static CommitEntry commit(int64_t id) {
    CommitEntry c;
    c.batch_id = id;
    c.committed_at_ms = 1700000000500 + id;
    c.input_rows = 10;
    c.output_rows = 9;
    c.dead_letter_rows = 1;
    c.files = {{"parquet", "dt=2025-11-06/part-x-00000-000.snappy.parquet", 9, 0, {}},
               {"dead-letter", "part-x.jsonl", 1, 0, {}}};
    return c;
  }
  void write_raw(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  fs::path dir_;
};

TEST_F(CheckpointTest, NewCheckpointGetsQueryIdThatPersists) {
  std::string id;
  {
    auto cp = open();
    ASSERT_TRUE(cp);
    EXPECT_TRUE(cp->created_now());
    id = cp->query_id();
    EXPECT_EQ(id.size(), 36u);
  }
  auto again = open();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created_now());
  EXPECT_EQ(again->query_id(), id);
  EXPECT_NE(new_query_id(), new_query_id());
}

TEST_F(CheckpointTest, OtherTopicIsRefusedWithTheSettingNamed) {
  ASSERT_TRUE(open("events"));
  auto cp = Checkpoint::open(local_file_system(), dir_.string(), "other");
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.status().message().find("CHECKPOINT_PATH"), std::string::npos);
}

TEST_F(CheckpointTest, EntriesRoundTripAndPendingBatchIsFound) {
  {
    auto cp = open();
    ASSERT_TRUE(cp->write_offsets(entry(0)).ok());
    ASSERT_TRUE(cp->write_commit(commit(0)).ok());
    ASSERT_TRUE(cp->write_offsets(entry(1)).ok());
    EXPECT_TRUE(cp->pending_batch().has_value());
  }
  auto cp = open();
  ASSERT_TRUE(cp->latest_offsets());
  OffsetsEntry planned = entry(1);
  planned.writer = cp->latest_offsets()->writer;
  EXPECT_FALSE(planned.writer.empty());
  EXPECT_EQ(*cp->latest_offsets(), planned);
  ASSERT_TRUE(cp->latest_commit());
  CommitEntry expected = commit(0);
  expected.writer = cp->latest_commit()->writer;
  EXPECT_FALSE(expected.writer.empty());
  EXPECT_EQ(*cp->latest_commit(), expected);
  ASSERT_TRUE(cp->pending_batch());
  EXPECT_EQ(cp->pending_batch()->batch_id, 1);
  EXPECT_EQ(cp->pending_batch()->layout, (FileLayout{2, 777}));
  ASSERT_TRUE(cp->write_commit(commit(1)).ok());
  EXPECT_FALSE(cp->pending_batch());
}

TEST_F(CheckpointTest, FullEntryRoundTrips) {
  OffsetsEntry e = entry(3);
  e.writer = "12@host/abcd";
  e.sinks = {{"parquet", "/out/p", "zstd"}, {"csv", "/out/c", ""}, {"dead-letter", "/out/d", ""}};
  e.decode = DecodeSpec{"a INT, ts TIMESTAMP", "ts", "dlq", 100, 10, ""};
  e.files = {{"parquet", "dt=2025-11-06/part-x-00003-000.zstd.parquet", 7, 0, {}},
             {"dead-letter", "part-x.jsonl", 1, 0, {}}};
  e.epochs = {{0, 3}, {5, 1}};  // GROUP_ID
  auto back = parse_offsets(serialize_offsets(e), "offsets/3");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, e);
  // A decode setting edited by hand no longer matches its fingerprint.
  std::string text = serialize_offsets(e);
  text.replace(text.find("a INT"), 5, "b INT");
  EXPECT_NE(parse_offsets(text, "offsets/3").status().message().find("fingerprint"), std::string::npos);
  const DecodeSpec one{"x", "ts", "dlq", 1, 2, ""};
  const DecodeSpec other{"x", "ts", "dlq", 12, 0, ""};
  EXPECT_NE(one.fingerprint(), other.fingerprint());
}

// KAFKA_COLUMNS is a decode setting: recorded, in the fingerprint, and a replay gets it back. An
// entry written before it existed has none, and its fingerprint (written by that version) holds.
TEST_F(CheckpointTest, KafkaColumnsAreRecordedAndOldEntriesKeepTheirFingerprint) {
  OffsetsEntry e = entry(5);
  e.writer = "12@host/abcd";
  e.sinks = {{"parquet", "/out/p", "snappy"}};
  e.decode = DecodeSpec{"a INT, ts TIMESTAMP", "timestamp", "dlq", 100, 10, "key, headers"};
  const std::string text = serialize_offsets(e);
  EXPECT_NE(text.find(R"("kafkaColumns":"key, headers")"), std::string::npos) << text;
  auto back = parse_offsets(text, "offsets/5");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, e);
  std::string edited = text;
  edited.replace(edited.find("key, headers"), 12, "key, topic  ");
  EXPECT_NE(parse_offsets(edited, "offsets/5").status().message().find("fingerprint"), std::string::npos);

  // The fingerprint kpipe wrote for these settings before KAFKA_COLUMNS existed.
  const DecodeSpec old{"a INT, ts TIMESTAMP", "ts", "dlq", 100, 10, ""};
  EXPECT_EQ(old.fingerprint(), "d2453a916c3fe765");
  e.decode = old;
  const std::string old_text = serialize_offsets(e);
  EXPECT_EQ(old_text.find("kafkaColumns"), std::string::npos) << old_text;
  auto parsed = parse_offsets(old_text, "offsets/5");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->decode->kafka_columns, "");
  EXPECT_NE(old.fingerprint(), (DecodeSpec{"a INT, ts TIMESTAMP", "ts", "dlq", 100, 10, "key"}.fingerprint()));
}

// What FAIL_ON_DATA_LOSS=false skipped is in the entry, so `kpipe verify` tells that gap from a
// real one; entries written before the field existed still parse, with nothing skipped.
TEST_F(CheckpointTest, SkippedRangesRoundTripAndOldEntriesParse) {
  OffsetsEntry e = entry(4);
  e.writer = "12@host/abcd";
  e.sinks = {{"parquet", "/out/p", "snappy"}};
  e.skipped = {{0, 30, 40}, {2, 0, 7}};
  const std::string text = serialize_offsets(e);
  EXPECT_NE(text.find(R"("skipped":[{"partition":0,"start":30,"end":40})"), std::string::npos) << text;
  auto back = parse_offsets(text, "offsets/4");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, e);
  e.skipped.clear();
  const std::string old = serialize_offsets(e);
  EXPECT_EQ(old.find("skipped"), std::string::npos);
  auto parsed = parse_offsets(old, "offsets/4");
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->skipped.empty());
  std::string bad = text;
  bad.replace(bad.find(R"("start":30,"end":40)"), 19, R"("start":40,"end":30)");
  EXPECT_FALSE(parse_offsets(bad, "offsets/4").ok());
}

TEST_F(CheckpointTest, SecondWriterCannotCreateAnEntryTheFirstMade) {
  auto first = open();
  auto second = open();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->query_id(), second->query_id());
  ASSERT_TRUE(first->write_offsets(entry(0)).ok());
  OffsetsEntry other = entry(0);
  other.ranges[0].end += 5;  // planned later, with more data
  Status st = second->write_offsets(other);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("offsets/0 of CHECKPOINT_PATH=" + dir_.string() + " was created by another writer"),
            std::string::npos)
      << st.message();
  ASSERT_TRUE(first->write_commit(commit(0)).ok());
  EXPECT_EQ(second->write_commit(commit(0)).code(), StatusCode::kAlreadyExists);
  // Nothing of the loser's is left: the winner's entry is intact.
  auto reread = open();
  EXPECT_EQ(reread->latest_offsets()->ranges, entry(0).ranges);
}

TEST_F(CheckpointTest, OwnEarlierTryOfAnEntryIsRecognised) {
  // The rename of commits/0 went through but the fsync of the directory failed: the retry finds
  // the entry it made and carries on instead of calling itself a second writer.
  auto faulty = std::make_shared<FaultyFileSystem>(local_file_system());
  auto cp = Checkpoint::open(faulty, dir_.string(), "events");
  ASSERT_TRUE(cp.ok());
  faulty->fail_on(FaultyFileSystem::Op::kFsyncDir, 1, Status::retriable("injected"));
  EXPECT_FALSE((*cp)->write_offsets(entry(0)).ok());
  OffsetsEntry replanned = entry(0);
  replanned.ranges[0].end += 3;  // more data arrived before the retry planned again
  Status again = (*cp)->write_offsets(replanned);
  EXPECT_TRUE(again.is_retriable()) << again.message();  // "run it as recorded"
  ASSERT_TRUE((*cp)->pending_batch());
  EXPECT_EQ((*cp)->pending_batch()->ranges, entry(0).ranges);
  faulty->fail_on(FaultyFileSystem::Op::kFsyncDir, 1, Status::retriable("injected"));
  EXPECT_FALSE((*cp)->write_commit(commit(0)).ok());
  CommitEntry later = commit(0);
  later.committed_at_ms += 1000;
  EXPECT_TRUE((*cp)->write_commit(later).ok());
  EXPECT_FALSE((*cp)->pending_batch());
}

TEST_F(CheckpointTest, WriterLockNamesTheHolderAndIsFreedWithIt) {
  auto first = lock_checkpoint(*local_file_system(), dir_.string());
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = lock_checkpoint(*local_file_system(), dir_.string());
  ASSERT_EQ(second.status().code(), StatusCode::kLocked);
  const std::string& msg = second.status().message();
  EXPECT_NE(msg.find("CHECKPOINT_PATH=" + dir_.string() + " is in use by another kpipe stream (pid " +
                     std::to_string(::getpid()) + " on host "),
            std::string::npos)
      << msg;
  first->reset();
  auto third = lock_checkpoint(*local_file_system(), dir_.string());
  EXPECT_TRUE(third.ok()) << third.status().message();
}

TEST_F(CheckpointTest, NoTempFileIsLeftBehind) {
  auto cp = open();
  ASSERT_TRUE(cp->write_offsets(entry(0)).ok());
  for (const auto& e : fs::directory_iterator(dir_ / "offsets")) {
    EXPECT_NE(e.path().filename().string()[0], '.') << e.path();
  }
}

TEST_F(CheckpointTest, TruncatedEntryIsAClearErrorNotSilentLoss) {
  {
    auto cp = open();
    ASSERT_TRUE(cp->write_offsets(entry(0)).ok());
  }
  std::string text = serialize_offsets(entry(0));
  write_raw("offsets/0", text.substr(0, text.size() / 2));
  auto cp = Checkpoint::open(local_file_system(), dir_.string(), "events");
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.status().message().find("offsets/0"), std::string::npos) << cp.status().message();
  EXPECT_NE(cp.status().message().find("damaged"), std::string::npos);
}

TEST_F(CheckpointTest, WrongTypesAndVersionsAreRejected) {
  EXPECT_FALSE(parse_offsets(R"({"version":1,"batchId":"x"})", "f").ok());
  EXPECT_FALSE(parse_offsets(R"([1,2])", "f").ok());
  auto v2 = parse_offsets(R"({"version":2,"batchId":0})", "f");
  ASSERT_FALSE(v2.ok());
  EXPECT_NE(v2.status().message().find("version 2"), std::string::npos);
  EXPECT_FALSE(parse_commit("", "f").ok());
  std::string bad_range = serialize_offsets(entry(3));
  auto pos = bad_range.find("\"end\":40");
  ASSERT_NE(pos, std::string::npos);
  bad_range.replace(pos, 8, "\"end\":1");
  EXPECT_FALSE(parse_offsets(bad_range, "f").ok());
}

TEST_F(CheckpointTest, CommitWithoutOffsetsIsInconsistent) {
  {
    auto cp = open();
    ASSERT_TRUE(cp->write_offsets(entry(0)).ok());
    ASSERT_TRUE(cp->write_commit(commit(0)).ok());
  }
  write_raw("commits/1", serialize_commit(commit(1)));
  auto cp = Checkpoint::open(local_file_system(), dir_.string(), "events");
  ASSERT_FALSE(cp.ok());
  EXPECT_NE(cp.status().message().find("inconsistent"), std::string::npos);
}

TEST_F(CheckpointTest, PurgeKeepsTheNewestEntries) {
  auto cp = open();
  for (int i = 0; i < 130; ++i) {
    ASSERT_TRUE(cp->write_offsets(entry(i)).ok());
    ASSERT_TRUE(cp->write_commit(commit(i)).ok());
  }
  ASSERT_TRUE(cp->purge(100).ok());
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "offsets")) {
    (void)e;
    ++n;
  }
  EXPECT_EQ(n, 100u);
  EXPECT_FALSE(fs::exists(dir_ / "offsets" / "29"));
  EXPECT_TRUE(fs::exists(dir_ / "offsets" / "30"));
  auto reopened = open();
  EXPECT_EQ(reopened->latest_commit()->batch_id, 129);
}

// Found by tests/fuzz/checkpoint_fuzz.cc (property "repeated partition accepted"): an offsets
// entry listing a partition twice was accepted, and a re-run of the batch would read that partition twice (every row
// duplicated).
TEST(CheckpointFuzzRegression, RepeatedPartitionInOffsetsIsRejected) {
  auto e = parse_offsets(
      R"({"version":1,"batchId":7,"plannedAtMs":1,"topic":"t","filesPerPartition":1,"maxRecordsPerFile":1,)"
      R"("ranges":[{"partition":0,"start":0,"end":3},{"partition":0,"start":3,"end":4}]})",
      "offsets/7");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().kind(), ErrorKind::kFatal);
  EXPECT_NE(e.status().message().find("partition 0 listed twice"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("offsets/7"), std::string::npos);
}

// Found while writing the properties of tests/fuzz/checkpoint_fuzz.cc: a partition id past int32
// was truncated to another partition (4294967296 read as partition 0), and negative partitions,
// batch ids and counts were accepted.
TEST(CheckpointFuzzRegression, OutOfRangeNumbersAreRejectedNotTruncated) {
  const std::string head = R"({"version":1,"plannedAtMs":1,"topic":"t","filesPerPartition":1,"maxRecordsPerFile":1,)";
  for (const std::string body :
       {R"("batchId":7,"ranges":[{"partition":4294967296,"start":0,"end":3}]})",
        R"("batchId":7,"ranges":[{"partition":-1,"start":0,"end":3}]})", R"("batchId":-7,"ranges":[]})"}) {
    auto e = parse_offsets(head + body, "offsets/7");
    ASSERT_FALSE(e.ok()) << body;
    EXPECT_NE(e.status().message().find("out of range"), std::string::npos) << e.status().message();
  }
  auto c = parse_commit(R"({"version":1,"batchId":7,"committedAtMs":1,"inputRows":-5,"outputRows":0,)"
                        R"("deadLetterRows":0,"files":[]})",
                        "commits/7");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("'inputRows' out of range"), std::string::npos) << c.status().message();
}

}  // namespace
}  // namespace kpipe
