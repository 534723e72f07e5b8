// The audit of `kpipe verify` on fakes: a checkpoint of values, a listing, a row counter.
// Each test breaks one property and checks the finding that names it.
#include "audit/audit.h"

#include <gtest/gtest.h>

#include "common/json_writer.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

constexpr char kQuery[] = "1a2b3c4d-0000-4000-8000-000000000000";
constexpr char kParquetRoot[] = "/out/parquet";
constexpr char kCsvRoot[] = "/out/csv";

std::string parquet_path(int64_t batch, int index = 0) {
  return "dt=2025-11-06/" + final_file_name(kQuery, batch, index, ".snappy.parquet");
}
std::string csv_path(int64_t batch, int index = 0) {
  return "dt=2025-11-06/" + final_file_name(kQuery, batch, index, ".csv");
}

// Batches 0..n-1, 10 rows each from partition 0 and nothing from partition 1, all committed, one
// Parquet and one CSV file each, every file listed with its rows.
class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_.query_id = kQuery;
    in_.topic = "events";
    in_.sinks = {{"parquet", kParquetRoot, "snappy"}, {"csv", kCsvRoot, ""}, {"dead-letter", "/out/dlq", ""}};
    in_.count_rows = [this](const std::string&, const std::string& path) -> Result<int64_t> {
      auto it = rows_.find(path);
      if (it == rows_.end()) return Status::fatal("cannot read " + path);
      return it->second;
    };
    for (int64_t b = 0; b < 3; ++b) add_batch(b, true);
    in_.settled = 2;
  }

  void add_batch(int64_t b, bool committed) {
    OffsetsEntry e;
    e.batch_id = b;
    e.topic = "events";
    e.ranges = {{0, b * 10, b * 10 + 10}, {1, 5, 5}};
    e.sinks = {{"parquet", kParquetRoot, "snappy"}, {"csv", kCsvRoot, ""}};
    e.files = {{"parquet", parquet_path(b), 10, 0, {}}, {"csv", csv_path(b), 10, 0, {}}};
    in_.offsets[b] = e;
    if (committed) {
      CommitEntry c;
      c.batch_id = b;
      c.committed_at_ms = 1000 + b;
      c.input_rows = c.output_rows = 10;
      c.files = e.files;
      in_.commits[b] = c;
    }
    list(kParquetRoot, parquet_path(b), 10);
    list(kCsvRoot, csv_path(b), 10);
  }

  void list(const std::string& root, const std::string& path, int64_t rows) {
    in_.listing[root].push_back(path);
    rows_[root + "/" + path] = rows;
  }
  void unlist(const std::string& root, const std::string& path) {
    auto& v = in_.listing[root];
    v.erase(std::find(v.begin(), v.end(), path));
  }

  // The kinds found, in order.
  std::vector<std::string> kinds(const AuditReport& r) {
    std::vector<std::string> k;
    for (const auto& f : r.findings) k.push_back(f.kind);
    return k;
  }

  void with_delta() {
    DeltaSnapshot t;
    t.version = 3;
    t.metadata.created_time = 500;
    for (int64_t b = 0; b < 3; ++b) {
      DeltaAdd a;
      a.path = parquet_path(b);
      a.stats = R"({"numRecords":10})";
      t.files[a.path] = a;
    }
    t.txns[kQuery] = DeltaTxn{kQuery, 2, 0};
    in_.delta = t;
    in_.delta_root = kParquetRoot;
  }

  AuditInput in_;
  std::map<std::string, int64_t> rows_;
};

TEST_F(AuditTest, ConsistentOutputHasNoFinding) {
  in_.listing[kParquetRoot].push_back("dt=2025-11-06/_SUCCESS");  // a dt folder's completion marker
  in_.listing[kParquetRoot].push_back("notes.txt");               // a user's file: not ours
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_EQ(r.batches, 3);
  EXPECT_EQ(r.files, 6);
  EXPECT_EQ(r.rows, 30);
  EXPECT_FALSE(r.pending);
  EXPECT_NE(format_report_text(r).find("verified 3 batches, 6 files, 30 rows: OK"), std::string::npos);
}

TEST_F(AuditTest, DeletedFileIsMissing) {
  unlist(kCsvRoot, csv_path(1));
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), std::vector<std::string>{"missing-file"});
  EXPECT_EQ(r.findings[0].batch, 1);
  EXPECT_EQ(r.findings[0].file, std::string(kCsvRoot) + "/" + csv_path(1));
}

TEST_F(AuditTest, FileWithOtherRowsOrUnreadableIsNamed) {
  rows_[std::string(kParquetRoot) + "/" + parquet_path(0)] = 7;
  rows_.erase(std::string(kCsvRoot) + "/" + csv_path(2));
  const AuditReport r = audit(in_);
  EXPECT_EQ(kinds(r), (std::vector<std::string>{"row-count", "unreadable-file"}));
  EXPECT_NE(r.findings[0].message.find("holds 7 rows; commits/0 records 10"), std::string::npos);
}

TEST_F(AuditTest, CommitWhoseFilesDoNotAddUpToItsRows) {
  in_.commits[1].output_rows = 11;
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"commit-rows", "commit-rows"}));
}

TEST_F(AuditTest, FinalNamedFileOfNoCommitIsStray) {
  list(kParquetRoot, parquet_path(1, 1), 3);  // an extra file of a committed batch
  list(kCsvRoot, csv_path(9), 3);             // a batch the checkpoint never had
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), (std::vector<std::string>{"stray-file", "stray-file"}));
  EXPECT_EQ(r.findings[0].batch, 9);  // the CSV root is listed first
  EXPECT_NE(r.findings[0].message.find("has no batch 9"), std::string::npos);
  EXPECT_EQ(r.findings[1].file, std::string(kParquetRoot) + "/" + parquet_path(1, 1));
}

TEST_F(AuditTest, TempFileIsALeftoverUnlessItsBatchIsInFlight) {
  list(kParquetRoot, "dt=2025-11-06/." + final_file_name(kQuery, 1, 0, ".snappy.parquet") + ".tmp", 0);
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), std::vector<std::string>{"hidden-leftover"});
  EXPECT_EQ(r.findings[0].batch, 1);
}

TEST_F(AuditTest, BatchInFlightIsNoFinding) {
  // offsets/3 without commits/3: one file renamed already, the other still under its temp name.
  add_batch(3, false);
  unlist(kCsvRoot, csv_path(3));
  list(kCsvRoot, "dt=2025-11-06/." + final_file_name(kQuery, 3, 0, ".csv") + ".tmp", 0);
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_EQ(r.pending, 3);
  EXPECT_EQ(r.batches, 3);
}

TEST_F(AuditTest, BatchCommittedDuringTheAuditIsNotCheckedYet) {
  // The second read of the logs saw commits/3; the listing, made before, missed one file.
  add_batch(3, true);
  unlist(kCsvRoot, csv_path(3));
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_EQ(r.batches, 3);
}

TEST_F(AuditTest, FilesOfPurgedBatchesAreCountedNotFound) {
  in_.offsets.erase(0);
  in_.commits.erase(0);
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_EQ(r.purged_files, 2);
  EXPECT_EQ(r.batches, 2);
}

TEST_F(AuditTest, OverlapAndGapAreFoundAndARecordedSkipIsNot) {
  in_.offsets[1].ranges[0] = {0, 8, 20};   // reads 8..9 again
  in_.offsets[2].ranges[0] = {0, 25, 30};  // never reads 20..24
  AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), (std::vector<std::string>{"offsets-overlap", "offsets-gap"}));
  EXPECT_EQ(r.findings[0].partition, 0);
  EXPECT_NE(r.findings[0].message.find("offsets 8..9 are read twice"), std::string::npos);
  EXPECT_NE(r.findings[1].message.find("offsets 20..24 were never read"), std::string::npos);

  in_.offsets[1].ranges[0] = {0, 10, 20};
  in_.offsets[2].skipped = {{0, 20, 25}};  // FAIL_ON_DATA_LOSS=false recorded it
  r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_NE(format_report_text(r).find("batch 2 skipped offsets 20..24 of events/0"), std::string::npos);
}

TEST_F(AuditTest, PartitionDroppedFromAnEntryIsAGap) {
  in_.offsets[2].ranges.pop_back();
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"offsets-gap"});
}

TEST_F(AuditTest, HolesInTheLogsAreFound) {
  in_.commits.erase(1);  // offsets/1 without its commit, yet batch 2 was planned: its files belong to nothing
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"log-gap", "uncommitted-batch", "stray-file", "stray-file"}));
  in_ = AuditInput();
  rows_.clear();
  SetUp();
  in_.offsets.erase(1);
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"log-gap", "commit-without-offsets"}));
}

TEST_F(AuditTest, KafkaWatermarksBehindTheCheckpointAreFound) {
  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 25}}, {1, {0, 5}}};
  AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), std::vector<std::string>{"kafka-offsets-ahead"});
  EXPECT_EQ(r.findings[0].partition, 0);

  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 45}}};
  r = audit(in_);
  EXPECT_EQ(kinds(r), std::vector<std::string>{"kafka-partition-missing"});

  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 45}}, {1, {0, 5}}};
  r = audit(in_);
  EXPECT_TRUE(r.ok());
  EXPECT_NE(format_report_text(r).find("Kafka: 15 record(s) of events after batch 2"), std::string::npos);
}

TEST_F(AuditTest, UnreachableBrokerIsAWarningNotAFinding) {
  in_.kafka_error = "KAFKA_BOOTSTRAP_SERVERS=localhost:1: timed out";
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(format_report_text(r).find("WARNING: Kafka not checked: KAFKA_BOOTSTRAP_SERVERS=localhost:1"),
            std::string::npos);
}

TEST_F(AuditTest, DeltaTableThatAgreesWithTheCommitLog) {
  with_delta();
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
}

TEST_F(AuditTest, DeltaAddRemovedOrAddedOrWithOtherRows) {
  with_delta();
  in_.delta->files.erase(parquet_path(1));
  in_.delta->files[parquet_path(2)].stats = R"({"numRecords":9})";
  DeltaAdd bogus;
  bogus.path = parquet_path(7);
  in_.delta->files[bogus.path] = bogus;
  const AuditReport r = audit(in_);
  EXPECT_EQ(kinds(r), (std::vector<std::string>{"delta-missing-file", "delta-missing-add", "delta-row-count",
                                                "delta-extra-add"}));
}

TEST_F(AuditTest, DeltaTxnMustBeTheLastBatch) {
  with_delta();
  in_.delta->txns[kQuery].version = 1;
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"delta-txn"});
  in_.delta->txns.clear();
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"delta-txn"});
  // Its Delta commit lands before commits/N: the txn of the batch in flight is fine.
  with_delta();
  add_batch(3, false);
  in_.delta->txns[kQuery].version = 3;
  DeltaAdd a;
  a.path = parquet_path(3);
  in_.delta->files[a.path] = a;
  EXPECT_TRUE(audit(in_).ok()) << format_report_text(audit(in_));
  // Its file renamed after the listing, its add read after: not a missing file either.
  unlist(kParquetRoot, parquet_path(3));
  EXPECT_TRUE(audit(in_).ok()) << format_report_text(audit(in_));
  in_.settled = 3;
  in_.commits[3] = CommitEntry{3, 1003, "", 10, 10, 0, in_.offsets[3].files, {}};
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"missing-file", "delta-missing-file"}));
}

TEST_F(AuditTest, BatchesBeforeTheTableAreNotExpectedInIt) {
  with_delta();
  in_.delta->metadata.created_time = 1002;  // after batches 0 and 1 were committed
  in_.delta->files.erase(parquet_path(0));
  in_.delta->files.erase(parquet_path(1));
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
}

TEST_F(AuditTest, ReadFindingsComeFirstAndJsonCarriesEverything) {
  in_.read_findings.push_back(AuditFinding{"damaged-entry", 1, "/ckpt/commits/1", -1, "not JSON"});
  unlist(kParquetRoot, parquet_path(0));
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), (std::vector<std::string>{"damaged-entry", "missing-file"}));
  const std::string json = format_report_json(r);
  EXPECT_NE(json.find(R"("ok":false,"batches":3,"files":6,"rows":30)"), std::string::npos) << json;
  EXPECT_NE(
      json.find(
          R"({"kind":"missing-file","batch":0,"file":"/out/parquet/dt=2025-11-06/part-1a2b3c4d-00000-000.snappy.parquet","partition":null)"),
      std::string::npos)
      << json;
  EXPECT_NE(format_report_text(r).find("FINDING damaged-entry: not JSON\n"), std::string::npos);
  EXPECT_NE(format_report_text(r).find(": 2 finding(s)"), std::string::npos);
}

TEST(AuditRowCount, CsvRecordsMayHoldLineBreaks) {
  EXPECT_EQ(count_csv_rows("a,b\n1,\"x\"\n2,\"y\nz\"\n"), 2);
  EXPECT_EQ(count_csv_rows("a,b\n1,\"say \"\"hi\"\"\"\n2,3"), 2);
  EXPECT_EQ(count_csv_rows("a,b\n"), 0);
  EXPECT_EQ(count_csv_rows(""), 0);
  EXPECT_EQ(count_json_lines("{\"a\":\"x\\ny\"}\n{}\n"), 2);
  EXPECT_EQ(count_json_lines("{}"), 1);
}

}  // namespace
}  // namespace kpipe

namespace kpipe {
namespace {

TEST(AuditReportText, CountsInTheSingular) {
  AuditReport r;
  r.batches = 1;
  r.files = 1;
  r.rows = 1;
  EXPECT_EQ(format_report_text(r), "verified 1 batch, 1 file, 1 row: OK\n");
  r.files = 2;
  r.pending = 2;
  EXPECT_EQ(format_report_text(r), "verified 1 batch, 2 files, 1 row (batch 2 in flight): OK\n");
}

}  // namespace
}  // namespace kpipe
