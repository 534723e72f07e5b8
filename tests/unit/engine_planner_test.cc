#include <gtest/gtest.h>

#include <numeric>

#include "engine/batch_planner.h"
#include "engine/file_planner.h"

namespace kpipe {
namespace {

PlanInput three_partitions() {
  PlanInput in;
  in.topic = "events";
  in.partitions = {{0, {0, 100}}, {1, {0, 50}}, {2, {10, 10}}};
  return in;
}

TEST(BatchPlanner, NewCheckpointEarliestReadsEverythingStored) {
  PlanInput in = three_partitions();
  in.starting = StartingOffsets::kEarliest;
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->ranges.size(), 3u);
  EXPECT_EQ(plan->ranges[0], (PartitionRange{0, 0, 100}));
  EXPECT_EQ(plan->ranges[1], (PartitionRange{1, 0, 50}));
  EXPECT_EQ(plan->ranges[2], (PartitionRange{2, 10, 10}));
  EXPECT_EQ(plan->total(), 150);
}

TEST(BatchPlanner, NewCheckpointLatestReadsNothingYet) {
  PlanInput in = three_partitions();
  in.starting = StartingOffsets::kLatest;
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->total(), 0);
  EXPECT_EQ(plan->ranges[0].start, 100);
}

TEST(BatchPlanner, ContinuesWherePreviousBatchEnded) {
  PlanInput in = three_partitions();
  in.previous = std::vector<PartitionRange>{{0, 0, 60}, {1, 0, 50}, {2, 10, 10}};
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ranges[0], (PartitionRange{0, 60, 100}));
  EXPECT_EQ(plan->ranges[1], (PartitionRange{1, 50, 50}));
  EXPECT_EQ(plan->total(), 40);
}

TEST(BatchPlanner, NewPartitionStartsAtEarliest) {
  PlanInput in = three_partitions();
  in.partitions[3] = Watermarks{0, 7};
  in.starting = StartingOffsets::kLatest;  // only for a new checkpoint
  in.previous = std::vector<PartitionRange>{{0, 0, 100}, {1, 0, 50}, {2, 10, 10}};
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->ranges.size(), 4u);
  EXPECT_EQ(plan->ranges[3], (PartitionRange{3, 0, 7}));
}

TEST(BatchPlanner, CapSpreadsProportionallyAndExactly) {
  PlanInput in = three_partitions();
  in.starting = StartingOffsets::kEarliest;
  in.max_offsets_per_trigger = 31;
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->total(), 31);
  // 100:50 lag → about 2:1
  EXPECT_GE(plan->ranges[0].end - plan->ranges[0].start, 20);
  EXPECT_GE(plan->ranges[1].end - plan->ranges[1].start, 10);
  for (const auto& r : plan->ranges) EXPECT_LE(r.start, r.end);
}

TEST(BatchPlanner, CapOfOneStillProgresses) {
  PlanInput in = three_partitions();
  in.starting = StartingOffsets::kEarliest;
  in.max_offsets_per_trigger = 1;
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->total(), 1);
}

TEST(BatchPlanner, DeletedOffsetsFailByDefaultNamingThem) {
  PlanInput in = three_partitions();
  in.partitions[0] = Watermarks{40, 100};
  in.previous = std::vector<PartitionRange>{{0, 0, 30}, {1, 0, 50}, {2, 10, 10}};
  auto plan = plan_batch(in);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("offsets 30..39 of events/0"), std::string::npos) << plan.status().message();
  EXPECT_NE(plan.status().message().find("FAIL_ON_DATA_LOSS"), std::string::npos);
}

TEST(BatchPlanner, DeletedOffsetsSkippedAndReportedWhenAllowed) {
  PlanInput in = three_partitions();
  in.partitions[0] = Watermarks{40, 100};
  in.previous = std::vector<PartitionRange>{{0, 0, 30}, {1, 0, 50}, {2, 10, 10}};
  in.fail_on_data_loss = false;
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ranges[0], (PartitionRange{0, 40, 100}));
  ASSERT_EQ(plan->data_loss.size(), 1u);
  // The write-ahead entry records the skip as a range, for `kpipe verify`.
  EXPECT_EQ(plan->skipped, (std::vector<PartitionRange>{{0, 30, 40}}));
}

TEST(BatchPlanner, VanishedPartitionIsFatal) {
  PlanInput in = three_partitions();
  in.partitions.erase(2);
  in.previous = std::vector<PartitionRange>{{0, 0, 30}, {1, 0, 50}, {2, 10, 10}};
  EXPECT_FALSE(plan_batch(in).ok());
}

TEST(BatchPlanner, OnceStopsAtTheOffsetsSeenAtStart) {
  PlanInput in = three_partitions();
  in.starting = StartingOffsets::kEarliest;
  in.stop_at = {{0, 80}, {1, 50}, {2, 10}};
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->ranges[0].end, 80);
}

int64_t sum_rows(const std::vector<FileSlice>& s) {
  return std::accumulate(s.begin(), s.end(), int64_t{0}, [](int64_t a, const FileSlice& f) { return a + f.length; });
}

TEST(FilePlanner, OneFileWhenItFits) {
  auto s = plan_files(1234, FileLayout{1, 5000});
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], (FileSlice{0, 1234}));
}

TEST(FilePlanner, MoreFilesWhenOverTheRecordLimit) {
  auto s = plan_files(12001, FileLayout{1, 5000});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(sum_rows(s), 12001);
  for (const auto& f : s) EXPECT_LE(f.length, 5000);
  EXPECT_EQ(s[1].offset, s[0].length);
}

TEST(FilePlanner, FilesPerPartitionSplitsEvenly) {
  auto s = plan_files(10, FileLayout{4, 5000});
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].length, 3);
  EXPECT_EQ(s[1].length, 3);
  EXPECT_EQ(s[2].length, 2);
  EXPECT_EQ(s[3].length, 2);
}

TEST(FilePlanner, FewerFilesThanRowsNeverEmpty) {
  auto s = plan_files(2, FileLayout{8, 5000});
  ASSERT_EQ(s.size(), 2u);
  for (const auto& f : s) EXPECT_EQ(f.length, 1);
  EXPECT_TRUE(plan_files(0, FileLayout{8, 5000}).empty());
}

TEST(FilePlanner, BothLimitsTogether) {
  for (int64_t rows : {1, 7, 100, 999, 1000, 1001, 54321}) {
    for (int64_t fpp : {1, 2, 3, 10}) {
      for (int64_t max : {1, 10, 333, 1000}) {
        auto s = plan_files(rows, FileLayout{fpp, max});
        EXPECT_EQ(sum_rows(s), rows);
        int64_t expect = std::max(std::min(fpp, rows), (rows + max - 1) / max);
        EXPECT_EQ(static_cast<int64_t>(s.size()), expect) << rows << " " << fpp << " " << max;
        int64_t at = 0;
        for (const auto& f : s) {
          EXPECT_GT(f.length, 0);
          EXPECT_LE(f.length, max);
          EXPECT_EQ(f.offset, at);
          at += f.length;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kpipe

namespace kpipe {
namespace {

TEST(BatchPlanner, MemoryBoundSplitsBacklogAndSaysMoreIsAvailable) {
  PlanInput in = three_partitions();
  in.starting = StartingOffsets::kEarliest;
  in.max_batch_records = 60;
  auto plan = plan_batch(in);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->total(), 60);
  EXPECT_TRUE(plan->more_available);
  in.max_batch_records = 1000;
  auto whole = plan_batch(in);
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(whole->total(), 150);
  EXPECT_FALSE(whole->more_available);
}

// MAX_BATCH_RECORDS on a backlog of many partitions: each batch reads a few partitions (a fetch
// brings a whole producer batch of each partition it touches, so touching all 96 kept 96 of them
// in memory), every partition is reached in turn whatever the others hold, and the batches
// together read each offset once.
PlanInput backlog(int partitions, int64_t per_partition) {
  PlanInput in;
  in.topic = "events";
  for (int p = 0; p < partitions; ++p) in.partitions[p] = Watermarks{0, per_partition};
  in.starting = StartingOffsets::kEarliest;
  return in;
}

int touched(const Plan& plan) {
  int n = 0;
  for (const auto& r : plan.ranges) n += r.end > r.start ? 1 : 0;
  return n;
}

TEST(BatchPlanner, MemoryBoundReadsAFewPartitionsInTurnAndEveryOffsetOnce) {
  PlanInput in = backlog(96, 10'000);
  in.max_batch_records = 100'000;
  std::map<int32_t, int64_t> read;
  int batches = 0;
  for (;; ++batches) {
    in.batch_id = batches;
    auto plan = plan_batch(in);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    if (plan->total() == 0) break;
    if (plan->more_available) {
      EXPECT_EQ(plan->total(), 100'000);
      EXPECT_LE(touched(*plan), 11) << "batch " << batches;  // 10,000 each: 10, and one begun
    }
    for (const auto& r : plan->ranges) {
      EXPECT_EQ(r.start, read[r.partition]);  // contiguous: nothing skipped, nothing read twice
      read[r.partition] = r.end;
    }
    in.previous = plan->ranges;
    ASSERT_LT(batches, 20);
  }
  EXPECT_EQ(batches, 10);  // 960,000 offsets, 100,000 a batch
  for (int p = 0; p < 96; ++p) EXPECT_EQ(read[p], 10'000) << p;
}

TEST(BatchPlanner, MemoryBoundReachesEveryPartitionEvenWhenOthersAreHeldInMemory) {
  // A backlog that never shrinks (the producer keeps up with the reader), and the source always
  // holding records of partitions 0 and 1: the others still get their turn.
  PlanInput in = backlog(40, 1'000'000);
  in.max_batch_records = 50'000;
  std::map<int32_t, int> waited;  // batches since the partition last advanced
  int longest = 0;
  for (int b = 0; b < 200; ++b) {
    in.batch_id = b;
    in.held.clear();
    for (int32_t p : {0, 1}) {
      const int64_t at = in.previous ? (*in.previous)[p].end : 0;
      in.held.push_back(PartitionRange{p, at, at + 40'000});
    }
    auto plan = plan_batch(in);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->total(), 50'000);
    for (const auto& r : plan->ranges) {
      waited[r.partition] = r.end > r.start ? 0 : waited[r.partition] + 1;
      longest = std::max(longest, waited[r.partition]);
    }
    for (auto& [p, w] : in.partitions) w.high += 250;  // still behind
    in.previous = plan->ranges;
  }
  // The quarter of the cap that goes round (two slices of 6,250) starts 2 partitions further on
  // every batch: each of the 40 is at the front once every 20 batches.
  EXPECT_LE(longest, 20);
}

TEST(BatchPlanner, MemoryBoundTakesWhatTheSourceHoldsFirstAndSplitsFewPartitionsEvenly) {
  PlanInput in = backlog(3, 90'000);
  in.max_batch_records = 60'000;
  auto even = plan_batch(in);
  ASSERT_TRUE(even.ok());
  for (const auto& r : even->ranges) EXPECT_EQ(r.end - r.start, 20'000) << r.partition;

  PlanInput many = backlog(20, 50'000);
  many.max_batch_records = 80'000;
  many.held = {PartitionRange{13, 0, 30'000}, PartitionRange{17, 0, 5'000}};
  auto plan = plan_batch(many);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->total(), 80'000);
  EXPECT_GE(plan->ranges[13].end, 30'000);
  EXPECT_GE(plan->ranges[17].end, 5'000);
  // Held records of a position the batch does not start at are of no use: ignored.
  many.held = {PartitionRange{13, 7, 30'000}};
  auto stale = plan_batch(many);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(stale->ranges[13].end, 0);
}

}  // namespace
}  // namespace kpipe
