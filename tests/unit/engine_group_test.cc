// GROUP_ID in process: the owner epochs and offsets the instances of a group keep in the Delta
// log (group_claims.h), the Delta committer's check of each batch against them, and the sweep of
// dead instances' directories (group_members.h). Real instances on a real broker:
// tests/integration/test_group.py.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "decode/schema.h"
#include "delta/delta_log.h"
#include "engine/delta_committer.h"
#include "engine/group_claims.h"
#include "engine/group_members.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

namespace stdfs = std::filesystem;
constexpr const char* kQuery = "5f0c2a9e-1111-4222-8333-944445555666";

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (stdfs::temp_directory_path() / ("kpipe-group-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  std::string table_root() const { return dir_ + "/parquet"; }

  // One instance's Delta committer: its writer txn, and the guard over its claims.
  struct Instance {
    std::string writer;
    std::shared_ptr<std::map<int32_t, Claim>> claims = std::make_shared<std::map<int32_t, Claim>>();
    std::unique_ptr<Committer> delta;
  };
  Instance instance(const std::string& writer) {
    Instance in;
    in.writer = writer;
    DeltaTableSpec spec;
    spec.root = table_root();
    spec.query_id = kQuery;
    spec.topic = "events";
    spec.schema = parse_ddl("event_id STRING, ts TIMESTAMP").value();
    spec.batch_app_id = writer_app_id(kQuery, writer);
    spec.guard = [claims = in.claims](const DeltaSnapshot& before, const OffsetsEntry& e) {
      return group_batch_txns(before, kQuery, *claims, e.ranges, 1);
    };
    auto d = open_delta_table(*fs_, spec);
    EXPECT_TRUE(d.ok()) << d.status().message();
    in.delta = std::move(d).value();
    return in;
  }
  void claim(Instance& in, std::vector<int32_t> partitions) {
    DeltaSnapshot table = load_snapshot(*fs_, table_root()).value();
    auto got = claim_partitions(*fs_, table_root(), table, kQuery, partitions, in.writer);
    ASSERT_TRUE(got.ok()) << got.status().message();
    for (auto& [p, c] : *got) (*in.claims)[p] = c;
  }
  static OffsetsEntry batch(int64_t id, std::vector<PartitionRange> ranges) {
    OffsetsEntry e;
    e.batch_id = id;
    e.topic = "events";
    e.ranges = std::move(ranges);
    return e;
  }
  Status commit(Instance& in, const OffsetsEntry& e) {
    CommitEntry c;
    c.batch_id = e.batch_id;
    Status st = in.delta->commit(e, c);
    if (st.ok()) {
      for (const auto& r : e.ranges) {
        if (r.end > r.start) (*in.claims)[r.partition].last = r.end - 1;
      }
    }
    return st;
  }
  Claim in_table(int32_t p) { return claim_in(load_snapshot(*fs_, table_root()).value(), kQuery, p); }

  std::shared_ptr<FileSystem> fs_ = local_file_system();
  std::string dir_;
};

TEST_F(GroupTest, EachClaimRaisesTheOwnerEpochAndKeepsTheOffset) {
  Instance a = instance("wa");
  claim(a, {0, 1});
  EXPECT_EQ(in_table(0).epoch, 1);
  EXPECT_FALSE(in_table(0).last.has_value());
  ASSERT_TRUE(commit(a, batch(0, {{0, 0, 10}, {1, 0, 0}})).ok());
  EXPECT_EQ(in_table(0).last, 9);
  EXPECT_FALSE(in_table(1).last.has_value());  // no rows of 1: no offset txn for it
  Instance b = instance("wb");
  claim(b, {0});
  EXPECT_EQ(in_table(0).epoch, 2);
  EXPECT_EQ(in_table(0).last, 9);
  EXPECT_EQ((*b.claims)[0].start(), 10);
  EXPECT_EQ(in_table(1).epoch, 1);
}

// Two instances on disjoint partitions commit in turn, each with a snapshot the other's commits
// made stale: neither is fenced (a stale snapshot once showed an epoch older than the instance's
// own claim and abandoned every first batch).
TEST_F(GroupTest, InstancesOnDisjointPartitionsNeverFenceEachOther) {
  Instance a = instance("wa");
  Instance b = instance("wb");
  claim(a, {0});
  claim(b, {1});
  for (int64_t n = 0; n < 5; ++n) {
    ASSERT_TRUE(commit(a, batch(n, {{0, n * 10, n * 10 + 10}})).ok()) << n;
    ASSERT_TRUE(commit(b, batch(n, {{1, n * 5, n * 5 + 5}})).ok()) << n;
  }
  EXPECT_EQ(in_table(0).last, 49);
  EXPECT_EQ(in_table(1).last, 24);
  auto t = load_snapshot(*fs_, table_root()).value();
  EXPECT_EQ(t.txns.at(writer_app_id(kQuery, "wa")).version, 4);
  EXPECT_EQ(t.txns.at(writer_app_id(kQuery, "wb")).version, 4);
}

// A zombie: A owned 0, B was assigned 0 and claimed it; A's batch, planned under the old epoch,
// is refused, and the table holds nothing of it.
TEST_F(GroupTest, AZombiesCommitIsFencedOnceTheNextOwnerClaimed) {
  Instance a = instance("wa");
  claim(a, {0});
  ASSERT_TRUE(commit(a, batch(0, {{0, 0, 10}})).ok());
  Instance b = instance("wb");
  claim(b, {0});
  const int64_t version = load_snapshot(*fs_, table_root()).value().version;
  Status st = commit(a, batch(1, {{0, 10, 20}}));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_NE(st.message().find("partition 0 has another owner"), std::string::npos) << st.message();
  EXPECT_EQ(load_snapshot(*fs_, table_root()).value().version, version);
  ASSERT_TRUE(commit(b, batch(0, {{0, 10, 20}})).ok());
  EXPECT_EQ(in_table(0).last, 19);
}

// The offset check alone: a second writer of a partition under the same epoch (which the
// epochs make impossible in the protocol) still cannot add an offset twice.
TEST_F(GroupTest, ABatchThatDoesNotContinueTheTablesOffsetIsRefused) {
  Instance a = instance("wa");
  claim(a, {0});
  ASSERT_TRUE(commit(a, batch(0, {{0, 0, 10}})).ok());
  (*a.claims)[0].last.reset();  // as if it planned from a stale view
  Status st = commit(a, batch(1, {{0, 0, 10}}));
  EXPECT_EQ(st.code(), StatusCode::kFenced) << st.message();
  EXPECT_NE(st.message().find("committed up to offset 9"), std::string::npos) << st.message();
  EXPECT_EQ(in_table(0).last, 9);
}

TEST_F(GroupTest, ABatchAlreadyInTheTableIsNotCommittedTwice) {
  Instance a = instance("wa");
  claim(a, {0});
  OffsetsEntry e = batch(0, {{0, 0, 10}});
  ASSERT_TRUE(commit(a, e).ok());
  EXPECT_TRUE(a.delta->has_committed(e).value());
  const int64_t version = load_snapshot(*fs_, table_root()).value().version;
  ASSERT_TRUE(a.delta->commit(e, CommitEntry{}).ok());
  EXPECT_EQ(load_snapshot(*fs_, table_root()).value().version, version);
}

class GroupSweepTest : public GroupTest {
 protected:
  // A member checkpoint with batch 0 committed and batch 1 pending, whose file exists.
  std::string member(const std::string& name, std::string* writer) {
    const std::string dir = members_dir(dir_ + "/cp") + "/" + name;
    auto cp = Checkpoint::open(fs_, dir, "events", "g").value();
    *writer = cp->query_id();
    for (int64_t id : {0, 1}) {
      OffsetsEntry e = batch(id, {{0, id * 10, id * 10 + 10}});
      e.sinks = {SinkSpec{"csv", dir_ + "/csv", ""}};
      const std::string file = "dt=2025-11-06/" + final_file_name(cp->query_id(), id, 0, ".csv");
      e.files = {CommittedFile{"csv", file, 10, 2, ""}};
      stdfs::create_directories(dir_ + "/csv/dt=2025-11-06");
      EXPECT_TRUE(fs_->write_file(dir_ + "/csv/" + file, "x\n").ok());
      EXPECT_TRUE(cp->write_offsets(e).ok());
      if (id == 0) {
        CommitEntry done;
        done.batch_id = 0;
        EXPECT_TRUE(cp->write_commit(done).ok());
      }
    }
    return dir;
  }
  std::string csv_file(const std::string& writer, int64_t id) {
    return dir_ + "/csv/dt=2025-11-06/" + final_file_name(writer, id, 0, ".csv");
  }
};

TEST_F(GroupSweepTest, ADeadInstancesUncommittedBatchIsRemovedAndItsDirectoryToo) {
  std::string writer;
  const std::string dir = member("dead", &writer);
  DeltaSnapshot table;  // the table has no batch of it
  auto swept = sweep_dead_members(fs_, dir_ + "/cp", table_root(), "me", table, kQuery, "events", "g");
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(swept->members, 1);
  EXPECT_EQ(swept->batches, 1);
  EXPECT_FALSE(stdfs::exists(csv_file(writer, 1)));
  EXPECT_TRUE(stdfs::exists(csv_file(writer, 0)));  // committed: never touched
  EXPECT_FALSE(stdfs::exists(dir));
}

// A member killed inside a Delta commit leaves the commit's temp file in the log, named after it;
// whoever sweeps the member removes it, and nobody else's.
TEST_F(GroupSweepTest, TheLogTempFilesOfAKilledInstanceAreRemovedAndNoOneElses) {
  std::string writer, live_writer;
  member("dead", &writer);
  const std::string live = member("live", &live_writer);
  auto held = lock_checkpoint(*fs_, live);
  ASSERT_TRUE(held.ok()) << held.status().message();
  // The commit's rename never happens (the kill), nor the removal of its temp file.
  auto faulty = std::make_shared<FaultyFileSystem>(fs_);
  faulty->fail_from(FaultyFileSystem::Op::kRenameNoReplace, 1, Status::fatal("killed"));
  faulty->fail_from(FaultyFileSystem::Op::kRemove, 1, Status::fatal("killed"));
  for (const char* owner : {"dead", "live", "me"}) {
    EXPECT_FALSE(write_commit(*faulty, table_root(), 3, "{}\n", owner).ok());
  }
  auto temps = [&] {
    std::vector<std::string> out;
    for (const auto& e : stdfs::directory_iterator(delta_log_dir(table_root()))) {
      if (is_temp_file_name(e.path().filename().string())) out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  ASSERT_EQ(temps().size(), 3u);
  DeltaSnapshot table;
  auto swept = sweep_dead_members(fs_, dir_ + "/cp", table_root(), "me", table, kQuery, "events", "g");
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(swept->members, 1);
  const auto left = temps();
  ASSERT_EQ(left.size(), 2u) << "the dead instance's temp file is still there";
  EXPECT_TRUE(is_temp_file_of(left[0], "live")) << left[0];
  EXPECT_TRUE(is_temp_file_of(left[1], "me")) << left[1];
}

// Without locks (S3): a pending batch's files go once an epoch it was planned under has moved —
// it can never commit then, whether its process runs or not — and the directory stays.
TEST_F(GroupSweepTest, WithoutLocksAPendingBatchIsRemovedOnceItsEpochMoved) {
  const std::string dir = members_dir(dir_ + "/cp") + "/nolock";
  auto cp = Checkpoint::open(fs_, dir, "events", "g").value();
  OffsetsEntry e = batch(0, {{0, 0, 10}, {1, 4, 4}});
  e.sinks = {SinkSpec{"csv", dir_ + "/csv", ""}};
  e.files = {CommittedFile{"csv", "dt=2025-11-06/" + final_file_name(cp->query_id(), 0, 0, ".csv"), 10, 2, ""}};
  e.epochs = {{0, 1}, {1, 1}};
  stdfs::create_directories(dir_ + "/csv/dt=2025-11-06");
  ASSERT_TRUE(fs_->write_file(csv_file(cp->query_id(), 0), "x\n").ok());
  ASSERT_TRUE(cp->write_offsets(e).ok());
  auto no_locks = std::make_shared<FaultyFileSystem>(fs_);
  no_locks->fail_from(FaultyFileSystem::Op::kLock, 1, Status::fatal("no locks here", StatusCode::kUnavailable));
  DeltaSnapshot table;
  auto epoch = [&](int32_t p, int64_t v) {
    const std::string app = owner_app_id(kQuery, p);
    table.txns[app] = DeltaTxn{app, v, 0};
  };
  epoch(0, 1);
  epoch(1, 1);
  auto sweep = [&] {
    return sweep_dead_members(no_locks, dir_ + "/cp", table_root(), "me", table, kQuery, "events", "g");
  };
  ASSERT_TRUE(sweep().ok());
  EXPECT_TRUE(stdfs::exists(csv_file(cp->query_id(), 0))) << "its epochs hold: it may still commit";
  epoch(1, 2);  // partition 1 moved, but the batch has no rows of it
  ASSERT_TRUE(sweep().ok());
  EXPECT_TRUE(stdfs::exists(csv_file(cp->query_id(), 0)));
  epoch(0, 2);  // another instance claimed partition 0
  auto swept = sweep();
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(swept->batches, 1);
  EXPECT_EQ(swept->members, 0);
  EXPECT_FALSE(stdfs::exists(csv_file(cp->query_id(), 0)));
  EXPECT_TRUE(stdfs::exists(dir)) << "its process may still run: the directory stays";
  EXPECT_EQ(sweep()->batches, 0) << "nothing left to remove";
}

TEST_F(GroupSweepTest, APendingBatchTheTableHasKeepsItsFiles) {
  std::string writer;
  member("dead", &writer);
  DeltaSnapshot table;
  table.txns[writer_app_id(kQuery, writer)] = DeltaTxn{writer_app_id(kQuery, writer), 1, 0};
  auto swept = sweep_dead_members(fs_, dir_ + "/cp", table_root(), "me", table, kQuery, "events", "g");
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(swept->members, 1);
  EXPECT_EQ(swept->batches, 0);
  EXPECT_TRUE(stdfs::exists(csv_file(writer, 1)));
}

TEST_F(GroupSweepTest, ALiveInstanceAndOurOwnDirectoryAreLeftAlone) {
  std::string live_writer, own_writer;
  const std::string live = member("live", &live_writer);
  const std::string own = member("me", &own_writer);
  auto held = lock_checkpoint(*fs_, live);  // its process holds the lock
  ASSERT_TRUE(held.ok()) << held.status().message();
  // (flock is per open file description: the sweeper's own open of the lock file is another
  // holder, so it finds this one held.)
  DeltaSnapshot table;
  auto swept = sweep_dead_members(fs_, dir_ + "/cp", table_root(), "me", table, kQuery, "events", "g");
  ASSERT_TRUE(swept.ok()) << swept.status().message();
  EXPECT_EQ(swept->members, 0);
  EXPECT_TRUE(stdfs::exists(live));
  EXPECT_TRUE(stdfs::exists(csv_file(live_writer, 1)));
  EXPECT_TRUE(stdfs::exists(own));
}

TEST(GroupCheckpointTest, AGroupAndASingleInstanceNeverShareACheckpoint) {
  const std::string dir = (stdfs::temp_directory_path() / ("kpipe-group-cp-" + std::to_string(::getpid()))).string();
  stdfs::remove_all(dir);
  auto fs = local_file_system();
  ASSERT_TRUE(Checkpoint::open(fs, dir, "events", "g1").ok());
  EXPECT_TRUE(Checkpoint::open(fs, dir, "events", "g1").ok());
  auto other = Checkpoint::open(fs, dir, "events", "g2");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("GROUP_ID=g1, not GROUP_ID=g2"), std::string::npos);
  auto single = Checkpoint::open(fs, dir, "events");
  ASSERT_FALSE(single.ok());
  EXPECT_NE(single.status().message().find("GROUP_ID=g1, not no GROUP_ID"), std::string::npos);
  stdfs::remove_all(dir);
  ASSERT_TRUE(Checkpoint::open(fs, dir, "events").ok());
  auto group = Checkpoint::open(fs, dir, "events", "g1");
  ASSERT_FALSE(group.ok());
  EXPECT_NE(group.status().message().find("no GROUP_ID, not GROUP_ID=g1"), std::string::npos);
  stdfs::remove_all(dir);
}

}  // namespace
}  // namespace kpipe
