// GROUP_ID in process: two StreamJobs share a topic (one FakeSource), a checkpoint and the
// outputs, each with a fake group membership that the test assigns partitions to, as Kafka's
// coordinator would — including the zombie case, where an instance still believes it owns a
// partition the coordinator gave to the other. The real thing, on a real broker:
// tests/integration/test_group.py.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "common/wakeup.h"
#include "engine/group_claims.h"
#include "engine_stream_job_fixture.h"

namespace kpipe {
namespace {

// The test plays the coordinator: it sets what each member owns.
class FakeMember final : public GroupMembership {
 public:
  void assign(std::set<int32_t> partitions) {
    std::lock_guard lock(mu_);
    for (int32_t p : partitions) {
      if (!view_.owned.count(p)) view_.owned[p] = ++assignments_[p];
    }
    std::erase_if(view_.owned, [&](const auto& kv) { return !partitions.count(kv.first); });
    ++view_.rebalances;
    if (wakeup_) wakeup_->notify();  // as KafkaGroupMember does (GroupOptions::wakeup)
  }
  void set_wakeup(Wakeup* w) {
    std::lock_guard lock(mu_);
    wakeup_ = w;
  }
  GroupView begin_batch(std::chrono::milliseconds) override { return view(); }
  void end_batch() override {}
  GroupView view() const override {
    std::lock_guard lock(mu_);
    return view_;
  }
  void commit_offsets(const std::map<int32_t, int64_t>& next) override {
    std::lock_guard lock(mu_);
    for (const auto& [p, o] : next) committed_[p] = o;
  }
  std::map<int32_t, int64_t> committed() const {
    std::lock_guard lock(mu_);
    return committed_;
  }

 private:
  mutable std::mutex mu_;
  GroupView view_;
  std::map<int32_t, int64_t> assignments_;
  std::map<int32_t, int64_t> committed_;
  Wakeup* wakeup_ = nullptr;
};

// A member the job holds while the test keeps it.
class BorrowedMember final : public GroupMembership {
 public:
  explicit BorrowedMember(FakeMember& m) : m_(m) {}
  GroupView begin_batch(std::chrono::milliseconds w) override { return m_.begin_batch(w); }
  void end_batch() override { m_.end_batch(); }
  GroupView view() const override { return m_.view(); }
  void commit_offsets(const std::map<int32_t, int64_t>& next) override { m_.commit_offsets(next); }

 private:
  FakeMember& m_;
};

class GroupJobTest : public StreamJobTest {
 protected:
  struct Instance {
    FakeMember member;
    std::shared_ptr<JobStatus> status = std::make_shared<JobStatus>();
    std::atomic<bool> stop{false};
    Wakeup wakeup;  // used when start() is given a trigger of its own
    std::thread thread;
    Status result;
    ~Instance() {  // a failed assertion returns early: never leave a job running
      stop = true;
      wakeup.notify();
      if (thread.joinable()) thread.join();
    }
  };
  // trigger_seconds > 0: that trigger, with the instance's Wakeup and no lag sample between
  // batches, so that only a notify ends the wait before the trigger.
  void start(Instance& in, FakeSource& src, double trigger_seconds = 0) {
    StreamOptions o = opt_;
    o.once = false;
    o.group_id = "g";
    o.trigger_seconds = trigger_seconds > 0 ? trigger_seconds : 0.02;
    StreamSeams seams;
    seams.fs = local_file_system();
    seams.source = std::make_unique<BorrowedSource>(src);
    if (trigger_seconds > 0) {
      seams.wakeup = &in.wakeup;
      seams.lag_sample_every = std::chrono::hours(1);
    }
    seams.join_group = [&in](const GroupOptions& go) -> Result<std::unique_ptr<GroupMembership>> {
      in.member.set_wakeup(go.wakeup);
      return std::unique_ptr<GroupMembership>(std::make_unique<BorrowedMember>(in.member));
    };
    auto job = std::make_shared<StreamJob>(o, std::move(seams), in.status);
    in.thread = std::thread([&in, job] { in.result = job->run(in.stop); });
  }
  // 120 events in each of 4 partitions; a owns 0 and 1, b 2 and 3; true once both wrote theirs.
  bool start_two_and_settle(Instance& a, Instance& b, FakeSource& src) {
    produce(src, 4, 120);
    a.member.assign({0, 1});
    b.member.assign({2, 3});
    start(a, src);
    start(b, src);
    const bool done = settled(src, 4);
    EXPECT_TRUE(done) << "the two instances did not write every partition";
    return done;
  }
  void stop(Instance& in) {
    in.stop = true;
    in.wakeup.notify();
    if (in.thread.joinable()) in.thread.join();
    EXPECT_TRUE(in.result.ok()) << in.result.message();
  }
  // Until the table's offset of every partition is its end, or 30 s.
  bool settled(FakeSource& src, int partitions) {
    std::string query;
    for (int i = 0; i < 1500; ++i) {
      query = query_id();  // the first instance creates the checkpoint
      auto table = load_snapshot(*local_file_system(), opt_.output_path);
      bool all = table.ok() && !query.empty();
      for (int32_t p = 0; all && p < partitions; ++p) {
        all = claim_in(*table, query, p).last == src.watermarks(p).value().high - 1;
      }
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // What was missing, for the failure message.
    auto table = load_snapshot(*local_file_system(), opt_.output_path);
    if (!table.ok()) ADD_FAILURE() << table.status().message();
    for (int32_t p = 0; table.ok() && p < partitions; ++p) {
      auto last = claim_in(*table, query, p).last;
      ADD_FAILURE() << "partition " << p << ": table at " << (last ? *last : -1) << ", end "
                    << src.watermarks(p).value().high;
    }
    return false;
  }
  std::string query_id() const {
    auto read = local_file_system()->read_file(opt_.checkpoint_path + "/metadata");
    const std::string text = read.ok() ? *read : "";
    auto at = text.find("\"queryId\":\"");
    return at == std::string::npos ? "" : text.substr(at + 11, 36);
  }
};

TEST_F(GroupJobTest, TwoInstancesThroughAHandOverAndAZombieWriteEachEventOnce) {
  FakeSource src(4);
  Instance a, b;
  ASSERT_TRUE(start_two_and_settle(a, b, src));

  // A zombie: the coordinator gave partition 1 to b, and a was never told.
  b.member.assign({1, 2, 3});
  produce(src, 4, 80);
  ASSERT_TRUE(settled(src, 4)) << "b did not take partition 1 over";
  expect_exactly_once();

  // The coordinator catches up with a; then hands 1 back to it in an orderly rebalance.
  a.member.assign({0});
  b.member.assign({2, 3});
  a.member.assign({0, 1});
  produce(src, 4, 60);
  ASSERT_TRUE(settled(src, 4)) << "a did not take partition 1 back";
  stop(a);
  stop(b);
  expect_exactly_once();

  // Each instance committed its partitions' ends to the group.
  EXPECT_EQ(a.member.committed().at(0), src.watermarks(0).value().high);
  EXPECT_EQ(a.member.committed().at(1), src.watermarks(1).value().high);
  EXPECT_EQ(b.member.committed().at(3), src.watermarks(3).value().high);
  auto group = a.status->snapshot().group;
  ASSERT_TRUE(group.has_value());
  EXPECT_EQ(group->group_id, "g");
  EXPECT_EQ(group->owned, (std::vector<int32_t>{0, 1}));
}

// MAX_BATCH_BYTES in a group: each instance's batches end at the byte limit, its claims go on
// from where each cut batch ended, and every event is written once.
TEST_F(GroupJobTest, MaxBatchBytesEndsEachInstancesBatchesAndEveryEventIsWrittenOnce) {
  opt_.max_batch_records = 100'000;
  opt_.max_batch_bytes = 3'000;  // about 41 records of 72 bytes
  FakeSource src(4);
  Instance a, b;
  ASSERT_TRUE(start_two_and_settle(a, b, src));
  stop(a);
  stop(b);
  expect_exactly_once();
  // 481 records of about 72 bytes under a 3,000-byte limit: at least 11 batches in all, each a
  // commit of the table (more when an instance's batch was empty of one of its partitions).
  auto table = load_snapshot(*local_file_system(), opt_.output_path);
  ASSERT_TRUE(table.ok()) << table.status().message();
  EXPECT_GE(table->version, 11);
  EXPECT_EQ(src.last_max_bytes(), 3'000);
}

// With a Wakeup the wait between batches does not look at the group every 100 ms: the
// membership notifies it after a rebalance (GroupOptions::wakeup), and the instance reads the
// partitions it was just given at once, not at its next trigger (60 s here).
TEST_F(GroupJobTest, ARebalanceEndsTheWaitBetweenBatchesThroughTheWakeup) {
  FakeSource src(4);
  Instance a;
  ASSERT_TRUE(a.wakeup.valid());
  produce(src, 4, 50);
  a.member.assign({0, 1});
  start(a, src, 60);
  ASSERT_TRUE(settled(src, 2)) << "the first batch did not write partitions 0 and 1";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the wait for the trigger

  const auto given = std::chrono::steady_clock::now();
  a.member.assign({0, 1, 2, 3});
  ASSERT_TRUE(settled(src, 4)) << "partitions 2 and 3 were not written";
  EXPECT_LT(std::chrono::steady_clock::now() - given, std::chrono::seconds(10))
      << "the new partitions waited for the trigger";
  stop(a);
  expect_exactly_once();
}

}  // namespace
}  // namespace kpipe
