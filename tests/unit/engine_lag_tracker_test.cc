// The consumer lag between batches (engine/lag_tracker.h): committed from the last committed
// batch, latest sampled on a clock, no request for partitions the source is fetching, the age of
// the oldest uncommitted record; and, through StreamJob, the regression of issue 12: after a
// batch the lag was the batch's own plan (its start against the high watermark of that moment).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "common/clock.h"
#include "engine/lag_tracker.h"
#include "engine/stream_job.h"
#include "engine_fake_source.h"

namespace kpipe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LagTrackerTest : public ::testing::Test {
 protected:
  LagTrackerTest() : src_(3), tracker_(src_, status_, clock_, options(), [this] { return wall_ms_; }) {}
  static LagTrackerOptions options() {
    LagTrackerOptions o;
    o.sample_every = seconds(2);
    o.query_timeout = milliseconds(1500);
    return o;
  }
  void append(int32_t partition, int n) {
    for (int i = 0; i < n; ++i) src_.append(partition, "{}");
  }
  std::map<int32_t, Watermarks> plan_marks() {
    std::map<int32_t, Watermarks> marks;
    for (int32_t p = 0; p < 3; ++p) marks[p] = *src_.watermarks(p);
    return marks;
  }
  // partition → {committed, latest}
  std::map<int32_t, std::pair<int64_t, int64_t>> lag() const {
    std::map<int32_t, std::pair<int64_t, int64_t>> out;
    for (const auto& l : status_.snapshot().lag) out[l.partition] = {l.committed, l.latest};
    return out;
  }
  PartitionLag lag_of(int32_t partition) const {
    for (const auto& l : status_.snapshot().lag) {
      if (l.partition == partition) return l;
    }
    ADD_FAILURE() << "no lag for partition " << partition;
    return {};
  }

  FakeSource src_;
  JobStatus status_;
  FakeClock clock_;
  int64_t wall_ms_ = FakeSource::timestamp_of(0) + 60'000;
  LagTracker tracker_;
};

TEST_F(LagTrackerTest, CommittedIsTheLastCommittedBatchAndLatestIsSampledEveryInterval) {
  append(0, 10);
  append(1, 5);
  // Batch 0 is planned: [0, 10) [0, 5) [0, 0).
  tracker_.set_latest(plan_marks());
  tracker_.set_committed({{0, 0}, {1, 0}, {2, 0}});
  tracker_.tick();
  using Lag = std::map<int32_t, std::pair<int64_t, int64_t>>;
  EXPECT_EQ(lag(), (Lag{{0, {0, 10}}, {1, {0, 5}}, {2, {0, 0}}}));
  EXPECT_EQ(src_.high_watermark_queries(), 0) << "the plan's watermarks are a sample";

  // Records arrive while it runs; it commits.
  append(0, 3);
  append(2, 4);
  tracker_.set_committed({{0, 10}, {1, 5}, {2, 0}});
  tracker_.tick();
  EXPECT_EQ(lag(), (Lag{{0, {10, 10}}, {1, {5, 5}}, {2, {0, 0}}})) << "no sample before the interval";
  EXPECT_EQ(src_.high_watermark_queries(), 0);

  clock_.advance(milliseconds(1999));
  tracker_.tick();
  EXPECT_EQ(src_.high_watermark_queries(), 0);
  clock_.advance(milliseconds(1));
  tracker_.tick();
  EXPECT_EQ(lag(), (Lag{{0, {10, 13}}, {1, {5, 5}}, {2, {0, 4}}}));
  EXPECT_EQ(src_.high_watermark_queries(), 1) << "one request for all partitions";
  EXPECT_EQ(src_.last_query_timeout(), milliseconds(1500));
  EXPECT_EQ(status_.snapshot().lag_sampled_at_ms, wall_ms_);

  // Every tick between samples costs nothing.
  for (int i = 0; i < 50; ++i) {
    clock_.advance(milliseconds(20));
    tracker_.tick();
  }
  EXPECT_EQ(src_.high_watermark_queries(), 1);
}

TEST_F(LagTrackerTest, NoRequestForPartitionsTheSourceIsFetching) {
  tracker_.set_latest(plan_marks());
  tracker_.set_committed({{0, 0}, {1, 0}, {2, 0}});
  src_.set_fetching(true);
  for (int i = 1; i <= 10; ++i) {
    append(1, 2);
    clock_.advance(seconds(2));
    tracker_.tick();
    EXPECT_EQ(lag_of(1).latest, 2 * i);
  }
  EXPECT_EQ(src_.high_watermark_queries(), 0);
  // The source stops fetching (paused, reassigned): asked again.
  src_.set_fetching(false);
  append(1, 1);
  clock_.advance(seconds(2));
  tracker_.tick();
  EXPECT_EQ(lag_of(1).latest, 21);
  EXPECT_EQ(src_.high_watermark_queries(), 1);
}

TEST_F(LagTrackerTest, AFailedSampleKeepsTheLastValuesAndTriesAgainAtTheNextInterval) {
  append(0, 4);
  tracker_.set_latest(plan_marks());
  tracker_.set_committed({{0, 4}, {1, 0}, {2, 0}});
  tracker_.tick();
  const int64_t sampled_at = status_.snapshot().lag_sampled_at_ms;
  append(0, 6);
  src_.fail_queries(1);
  wall_ms_ += 2000;
  clock_.advance(seconds(2));
  tracker_.tick();
  EXPECT_EQ(lag_of(0).latest, 4);
  EXPECT_EQ(status_.snapshot().lag_sampled_at_ms, sampled_at);
  clock_.advance(milliseconds(100));
  tracker_.tick();
  EXPECT_EQ(src_.high_watermark_queries(), 1) << "no retry before the interval";
  clock_.advance(seconds(2));
  tracker_.tick();
  EXPECT_EQ(lag_of(0).latest, 10);
  EXPECT_EQ(src_.high_watermark_queries(), 2);
}

TEST_F(LagTrackerTest, OldestUncommittedRecordAge) {
  append(0, 10);
  tracker_.set_latest(plan_marks());
  tracker_.set_committed({{0, 10}, {1, 0}, {2, 0}});
  tracker_.tick();
  const int64_t now = wall_ms_;
  EXPECT_EQ(oldest_uncommitted_age_seconds(lag_of(0), now), 0) << "caught up";
  EXPECT_EQ(lag_of(0).oldest_uncommitted_ms, -1);

  // Behind, the record held: its own timestamp.
  append(0, 5);
  clock_.advance(seconds(2));
  tracker_.tick();
  EXPECT_EQ(lag_of(0).oldest_uncommitted_ms, FakeSource::timestamp_of(10));
  EXPECT_DOUBLE_EQ(oldest_uncommitted_age_seconds(lag_of(0), now), (now - FakeSource::timestamp_of(10)) / 1000.0);
  // Read at a later moment, the age has grown with it.
  EXPECT_DOUBLE_EQ(oldest_uncommitted_age_seconds(lag_of(0), now + 7000),
                   (now + 7000 - FakeSource::timestamp_of(10)) / 1000.0);

  // A commit of part of it: the next record is the oldest.
  tracker_.set_committed({{0, 12}, {1, 0}, {2, 0}});
  tracker_.tick();
  EXPECT_EQ(lag_of(0).oldest_uncommitted_ms, FakeSource::timestamp_of(12));

  // Not held (not fetched yet): when the tracker first saw it behind, until the record is held.
  src_.set_holding(false);
  append(1, 3);
  clock_.advance(seconds(2));
  tracker_.tick();
  EXPECT_EQ(lag_of(1).oldest_uncommitted_ms, wall_ms_);
  wall_ms_ += 4000;
  clock_.advance(seconds(2));
  tracker_.tick();
  EXPECT_EQ(lag_of(1).oldest_uncommitted_ms, wall_ms_ - 4000) << "the first sighting stays";
  src_.set_holding(true);
  tracker_.tick();
  EXPECT_EQ(lag_of(1).oldest_uncommitted_ms, FakeSource::timestamp_of(0));

  // Caught up again.
  tracker_.set_committed({{0, 15}, {1, 3}, {2, 0}});
  tracker_.tick();
  EXPECT_EQ(oldest_uncommitted_age_seconds(lag_of(0), wall_ms_), 0);
  EXPECT_EQ(oldest_uncommitted_age_seconds(lag_of(1), wall_ms_), 0);
}

TEST(LagAge, BehindWithoutATimestampIsNotANumberAndAClockAheadIsZero) {
  EXPECT_TRUE(std::isnan(oldest_uncommitted_age_seconds(PartitionLag{0, 3, 5, -1}, 1000)));
  EXPECT_EQ(oldest_uncommitted_age_seconds(PartitionLag{0, 3, 5, 5000}, 1000), 0);
  EXPECT_EQ(oldest_uncommitted_age_seconds(PartitionLag{0, 5, 5, 5000}, 9000), 0);
}

// Appends records while a batch reads, as a producer would.
class ProducingSource final : public RecordSource {
 public:
  explicit ProducingSource(FakeSource& s) : s_(s) {}
  Result<std::vector<int32_t>> partitions() override { return s_.partitions(); }
  Result<Watermarks> watermarks(int32_t p) override { return s_.watermarks(p); }
  Result<std::map<int32_t, int64_t>> high_watermarks(const std::vector<int32_t>& p, milliseconds t) override {
    return s_.high_watermarks(p, t);
  }
  std::optional<int64_t> held_timestamp_ms(int32_t p, int64_t o) override { return s_.held_timestamp_ms(p, o); }
  Status read(const std::vector<PartitionRange>& r, const std::function<void(const RawRecord&)>& cb,
              const std::atomic<bool>& stop) override {
    Status st = s_.read(r, cb, stop);
    for (int i = 0; i < 7; ++i) s_.append(0, event(i));
    return st;
  }
  std::string last_client_error() const override { return ""; }
  static std::string event(int i) {
    return R"({"event_id":"e)" + std::to_string(i) + R"(","ts":"2025-11-06T12:00:00Z","value":1.5,"source":"s"})";
  }

 private:
  FakeSource& s_;
};

// A continuous job under `dir`, Parquet and CSV, from the earliest offsets, whose trigger
// (60 s) leaves time for one batch during a test.
StreamOptions one_batch_job(const std::filesystem::path& dir) {
  StreamOptions opt;
  opt.topic = "events";
  opt.output_path = (dir / "parquet").string();
  opt.csv_output_path = (dir / "csv").string();
  opt.checkpoint_path = (dir / "_checkpoint").string();
  opt.dead_letter_path = (dir / "_dead_letter").string();
  opt.sink_console = false;
  opt.starting_earliest = true;
  opt.trigger_seconds = 60;
  return opt;
}

// Issue 12: with 3 partitions at 144/154/154 committed and the topic at 157/167/165, the status
// said committed 95/103/105 and lag 49/51/49: the last batch's plan, never updated.
TEST(StreamJobLag, AfterABatchTheLagIsWhatIsLeftNotTheBatchsPlan) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kpipe-lag-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  StreamOptions opt = one_batch_job(dir);
  FakeSource topic(3);
  for (int32_t p = 0; p < 3; ++p) {
    for (int i = 0; i < 20 + p; ++i) topic.append(p, ProducingSource::event(i));
  }
  StreamSeams seams;
  seams.source = std::make_unique<ProducingSource>(topic);
  seams.lag_sample_every = milliseconds(20);
  auto status = std::make_shared<JobStatus>();
  StreamJob job(opt, std::move(seams), status);
  std::atomic<bool> stop{false};
  Status result;
  std::thread runner([&] { result = job.run(stop); });

  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  StatusSnapshot s;
  auto settled = [&] {
    s = status->snapshot();
    return s.last_committed_batch == 0 && s.lag.size() == 3 && s.lag[0].latest == 27;
  };
  while (!settled() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(milliseconds(10));
  stop = true;
  runner.join();
  ASSERT_TRUE(result.ok()) << result.message();
  ASSERT_EQ(s.last_committed_batch, 0);
  ASSERT_EQ(s.lag.size(), 3u);
  // Committed: batch 0's end offsets. Latest: the 7 records produced while it ran.
  EXPECT_EQ(s.lag[0].committed, 20);
  EXPECT_EQ(s.lag[0].latest, 27);
  EXPECT_EQ(s.lag[0].records(), 7);
  EXPECT_EQ(s.lag[0].oldest_uncommitted_ms, FakeSource::timestamp_of(20));
  EXPECT_EQ(s.lag[1].committed, 21);
  EXPECT_EQ(s.lag[1].records(), 0);
  EXPECT_EQ(s.lag[2].committed, 22);
  EXPECT_EQ(s.lag[2].records(), 0);
  fs::remove_all(dir);
}

// Until the job has told `source` of its first wait between batches (at most 20 s).
void wait_for_first_idle(FakeSource& source) {
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (source.idles().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
}

std::unique_ptr<FakeSource> ten_events_in_two_partitions() {
  auto topic = std::make_unique<FakeSource>(2);
  for (int32_t p = 0; p < 2; ++p) {
    for (int i = 0; i < 10; ++i) topic->append(p, ProducingSource::event(i));
  }
  return topic;
}

// Between triggers the job tells the source how long it will wait (KafkaSource closes its
// metadata client for a long one): once per wait, with what is left of the trigger interval.
TEST(StreamJobIdle, AfterEachBatchTheSourceIsToldHowLongTheJobWillWait) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kpipe-idle-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  StreamOptions opt = one_batch_job(dir);
  auto topic = ten_events_in_two_partitions();
  FakeSource* source = topic.get();
  StreamSeams seams;
  seams.source = std::move(topic);
  auto status = std::make_shared<JobStatus>();
  StreamJob job(opt, std::move(seams), status);
  std::atomic<bool> stop{false};
  Status result;
  std::thread runner([&] { result = job.run(stop); });
  wait_for_first_idle(*source);
  stop = true;
  runner.join();
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_EQ(status->snapshot().last_committed_batch, 0);
  const auto idles = source->idles();
  ASSERT_EQ(idles.size(), 1u);
  EXPECT_GT(idles[0], seconds(50));
  EXPECT_LE(idles[0], seconds(60));
  fs::remove_all(dir);
}

// With a Wakeup (the CLI's signal handler notifies it) the wait between batches does not look at
// `stop` every 100 ms: it sleeps to the trigger or the lag's next sample, and a notify ends it.
TEST(StreamJobIdle, AWakeupEndsTheWaitBetweenBatchesWhichOtherwiseSleeps) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("kpipe-wakeup-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  StreamOptions opt = one_batch_job(dir);
  auto topic = ten_events_in_two_partitions();
  FakeSource* source = topic.get();
  Wakeup wakeup;
  ASSERT_TRUE(wakeup.valid());
  StreamSeams seams;
  seams.source = std::move(topic);
  seams.wakeup = &wakeup;
  seams.lag_sample_every = seconds(20);
  auto status = std::make_shared<JobStatus>();
  StreamJob job(opt, std::move(seams), status);
  std::atomic<bool> stop{false}, done{false};
  Status result;
  std::thread runner([&] {
    result = job.run(stop);
    done = true;
  });
  wait_for_first_idle(*source);
  ASSERT_FALSE(source->idles().empty());
  std::this_thread::sleep_for(milliseconds(50));  // into the wait
  stop = true;
  std::this_thread::sleep_for(milliseconds(600));
  EXPECT_FALSE(done) << "the wait looked at stop without being woken";
  const auto notified = std::chrono::steady_clock::now();
  wakeup.notify();
  while (!done && std::chrono::steady_clock::now() < notified + seconds(5)) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(done);
  EXPECT_LT(std::chrono::steady_clock::now() - notified, milliseconds(500));
  runner.join();
  ASSERT_TRUE(result.ok()) << result.message();
  EXPECT_EQ(status->snapshot().last_committed_batch, 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kpipe
