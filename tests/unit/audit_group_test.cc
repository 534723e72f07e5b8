// `kpipe verify` of a consumer group's output on fakes: a Delta table of values, members, a
// listing, a row and offset reader. Each test breaks one property and checks the finding.
#include <gtest/gtest.h>

#include <algorithm>

#include "audit/group_audit.h"
#include "engine/group_claims.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

constexpr char kQuery[] = "99990000-0000-4000-8000-000000000000";
constexpr char kRoot[] = "/out/parquet";
constexpr char kCsvRoot[] = "/out/csv";
// Two processes of the group; their files carry their own ids.
constexpr char kA[] = "aaaa1111-0000-4000-8000-000000000000";
constexpr char kB[] = "bbbb2222-0000-4000-8000-000000000000";

std::string file(const char* writer, int64_t batch, const char* ext) {
  return "dt=2025-11-06/" + final_file_name(writer, batch, 0, ext);
}

// A committed the batches 0 and 1 (partition 0, offsets 0..9 and 10..19), B the batch 0
// (partition 1, offsets 0..9); the table's txns say so, and both processes run.
class GroupAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    in_.query_id = kQuery;
    in_.topic = "events";
    in_.sinks = {{"parquet", kRoot, "snappy"}, {"csv", kCsvRoot, ""}};
    in_.delta_root = kRoot;
    in_.delta = DeltaSnapshot{};
    in_.delta->version = 5;
    in_.group.emplace();
    in_.group->group_id = "g";
    in_.group->members = {member("ma", kA, true), member("mb", kB, true)};
    in_.count_rows = [this](const std::string&, const std::string& path) -> Result<int64_t> {
      auto it = rows_.find(path);
      if (it == rows_.end()) return Status::fatal("cannot read " + path);
      return static_cast<int64_t>(it->second.size());
    };
    in_.group->read_offsets = [this](const std::string& path) -> Result<std::vector<std::pair<int32_t, int64_t>>> {
      auto it = rows_.find(path);
      if (it == rows_.end()) return Status::fatal("cannot read " + path);
      return it->second;
    };
    commit(kA, 0, 0, 0);
    commit(kA, 1, 0, 10);
    commit(kB, 0, 1, 0);
    in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 20}}, {1, {0, 10}}};
  }

  static GroupMemberState member(const std::string& name, const char* writer, bool live) {
    GroupMemberState m;
    m.name = name;
    m.writer8 = std::string(writer).substr(0, 8);
    m.live = live;
    return m;
  }

  // A batch of 10 rows of `partition` from `start` in the table, its Parquet and CSV files listed.
  void commit(const char* writer, int64_t batch, int32_t partition, int64_t start) {
    std::vector<std::pair<int32_t, int64_t>> rows;
    for (int64_t o = start; o < start + 10; ++o) rows.emplace_back(partition, o);
    const std::string pq = file(writer, batch, ".snappy.parquet");
    DeltaAdd add;
    add.path = pq;
    add.stats = "{\"numRecords\":10}";
    in_.delta->files[pq] = add;
    const std::string app = partition_app_id(kQuery, partition);
    in_.delta->txns[app] = DeltaTxn{app, start + 9, 0};
    list(kRoot, pq, rows);
    list(kCsvRoot, file(writer, batch, ".csv"), rows);
  }

  void list(const std::string& root, const std::string& path, std::vector<std::pair<int32_t, int64_t>> rows) {
    in_.listing[root].push_back(path);
    rows_[root + "/" + path] = std::move(rows);
  }

  std::vector<std::string> kinds(const AuditReport& r) {
    std::vector<std::string> k;
    for (const auto& f : r.findings) k.push_back(f.kind);
    return k;
  }

  AuditInput in_;
  std::map<std::string, std::vector<std::pair<int32_t, int64_t>>> rows_;
};

TEST_F(GroupAuditTest, ASettledGroupIsClean) {
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_EQ(r.batches, 3);
  EXPECT_EQ(r.rows, 30);
  EXPECT_EQ(r.files, 6);
  const std::string text = format_report_text(r);
  EXPECT_NE(text.find("0 offset(s) behind"), std::string::npos) << text;
  EXPECT_NE(text.find("2 running instance(s)"), std::string::npos) << text;
}

TEST_F(GroupAuditTest, AnEventTwiceInTheTableIsADuplicate) {
  // B's batch 1 holds offsets 5..14 of partition 1 again: two owners committed one range.
  commit(kB, 1, 1, 5);
  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 20}}, {1, {0, 15}}};
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), std::vector<std::string>{"duplicate"}) << format_report_text(r);
  EXPECT_EQ(r.findings[0].partition, 1);
  EXPECT_NE(r.findings[0].message.find("5 row(s)"), std::string::npos) << r.findings[0].message;
}

TEST_F(GroupAuditTest, RowsPastThePartitionsTxnAreFound) {
  in_.delta->txns[partition_app_id(kQuery, 0)].version = 15;
  const AuditReport r = audit(in_);
  EXPECT_EQ(kinds(r), std::vector<std::string>{"delta-txn"}) << format_report_text(r);
}

TEST_F(GroupAuditTest, AFileNoBatchOwnsIsAStray) {
  list(kRoot, file(kB, 7, ".snappy.parquet"), {{1, 3}});
  list(kCsvRoot, file(kB, 7, ".csv"), {{1, 3}});
  const AuditReport r = audit(in_);
  EXPECT_EQ(kinds(r), (std::vector<std::string>{"stray-file", "stray-file"})) << format_report_text(r);
}

TEST_F(GroupAuditTest, ARunningInstancesBatchInFlightIsNoStrayButAStoppedOnesIsUnswept) {
  OffsetsEntry e;
  e.batch_id = 2;
  in_.group->members[0].pending = e;  // A runs: in flight
  e.batch_id = 1;
  in_.group->members[1].pending = e;  // B ...
  list(kRoot, file(kA, 2, ".snappy.parquet"), {{0, 20}});
  list(kRoot, "dt=2025-11-06/" + temp_file_name(final_file_name(kA, 2, 1, ".csv")), {});
  list(kRoot, file(kB, 1, ".snappy.parquet"), {{1, 10}});
  EXPECT_TRUE(audit(in_).ok()) << format_report_text(audit(in_));
  in_.group->members[1].live = false;  // ... was killed
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), std::vector<std::string>{"unswept-file"}) << format_report_text(r);
  EXPECT_NE(r.findings[0].message.find("mb"), std::string::npos) << r.findings[0].message;
}

// S3: no locks, so whether B runs cannot be told; its batch counts as in flight until an epoch
// it was planned under moves (it can never commit then).
TEST_F(GroupAuditTest, WithoutLocksABatchInFlightIsUnsweptOnceItCanNeverCommit) {
  OffsetsEntry e;
  e.batch_id = 1;
  e.ranges = {{1, 10, 20}};
  e.epochs = {{1, 1}};
  GroupMemberState& b = in_.group->members[1];
  b.unknown = true;
  b.pending = e;
  list(kRoot, file(kB, 1, ".snappy.parquet"), {{1, 10}});
  const std::string owner = owner_app_id(kQuery, 1);
  in_.delta->txns[owner] = DeltaTxn{owner, 1, 0};
  EXPECT_TRUE(audit(in_).ok()) << format_report_text(audit(in_));
  in_.delta->txns[owner].version = 2;  // another instance claimed partition 1
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"unswept-file"}) << format_report_text(audit(in_));
}

TEST_F(GroupAuditTest, TempFilesOfNoRunningInstanceAreLeftovers) {
  list(kCsvRoot, "dt=2025-11-06/" + temp_file_name(final_file_name(kB, 3, 0, ".csv")), {});
  in_.group->log_temp_files = {".00000000000000000006.json.ma-3.tmp", ".00000000000000000006.json.gone-1.tmp"};
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"hidden-leftover"}) << "only the dead one's log temp";
  in_.group->members[1].live = false;
  in_.group->members[0].live = false;
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"hidden-leftover", "hidden-leftover", "hidden-leftover"}));
}

TEST_F(GroupAuditTest, ATableFileMissingOrWithOtherRowsIsFound) {
  const std::string pq = file(kA, 1, ".snappy.parquet");
  in_.delta->files[pq].stats = "{\"numRecords\":11}";
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"delta-row-count"});
  auto& listed = in_.listing[kRoot];
  listed.erase(std::find(listed.begin(), listed.end(), pq));
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"missing-file", "row-count"}))
      << "the file is gone, and its batch's CSV rows no longer match the table's";
}

TEST_F(GroupAuditTest, ABatchInTheTableWithoutItsCsvRowsIsFound) {
  auto& listed = in_.listing[kCsvRoot];
  listed.erase(std::find(listed.begin(), listed.end(), file(kB, 0, ".csv")));
  const AuditReport r = audit(in_);
  ASSERT_EQ(kinds(r), std::vector<std::string>{"missing-file"}) << format_report_text(r);
  EXPECT_NE(r.findings[0].message.find("10 rows in the Delta table and 0 in the CSV"), std::string::npos);
}

TEST_F(GroupAuditTest, ABatchCommittedDuringTheAuditIsNoStray) {
  // Listed (published), committed after the first read of the table.
  DeltaSnapshot after = *in_.delta;
  list(kRoot, file(kA, 2, ".snappy.parquet"), {{0, 20}});
  list(kCsvRoot, file(kA, 2, ".csv"), {{0, 20}});
  EXPECT_EQ(kinds(audit(in_)), (std::vector<std::string>{"stray-file", "stray-file"}));
  after.files[file(kA, 2, ".snappy.parquet")] = DeltaAdd{file(kA, 2, ".snappy.parquet"), {}, 0, 0, true, ""};
  in_.group->delta_after = after;
  EXPECT_TRUE(audit(in_).ok()) << format_report_text(audit(in_));
}

TEST_F(GroupAuditTest, KafkaBehindTheTableIsFoundAndTheLagIsSaid) {
  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 25}}, {1, {0, 10}}, {2, {0, 4}}};
  std::string text = format_report_text(audit(in_));
  EXPECT_NE(text.find("9 offset(s) behind"), std::string::npos) << text;
  EXPECT_NE(text.find("partition(s) 2 have events"), std::string::npos) << text;
  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 12}}, {1, {0, 10}}};
  EXPECT_EQ(kinds(audit(in_)), std::vector<std::string>{"offset-beyond-end"});
}

TEST_F(GroupAuditTest, WithoutPartitionAndOffsetColumnsRowsAreCountedNotCompared) {
  commit(kB, 1, 1, 5);  // a duplicate nobody can see without the columns
  in_.watermarks = std::map<int32_t, Watermarks>{{0, {0, 20}}, {1, {0, 15}}};
  in_.group->read_offsets = nullptr;
  const AuditReport r = audit(in_);
  EXPECT_TRUE(r.ok()) << format_report_text(r);
  EXPECT_NE(format_report_text(r).find("KAFKA_COLUMNS"), std::string::npos);
}

}  // namespace
}  // namespace kpipe
