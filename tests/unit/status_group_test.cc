// GROUP_ID in the status: what JobStatus keeps from set_group, and how /api/status and /metrics
// show it — only when the instance is in a consumer group, so a single instance's documents
// stay as they were. The JSON is parsed with simdjson, the metrics go through the strict checker.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <string>

#include "engine/job_status.h"
#include "status/prometheus.h"
#include "status/status_json.h"
#include "status_prometheus_check.h"

namespace kpipe {
namespace {

using testing_prom::check_exposition;

constexpr int64_t kNowMs = 1'796'551'260'000;  // 2026-12-06T10:01:00Z

GroupStatus a_group() {
  GroupStatus g;
  g.group_id = "kpipe-events";
  g.member_id = "rdkafka-6f1c2b9e-3a4d-4e55-9b0a-0c1d2e3f4a5b";
  g.owned = {5, 1, 3};  // as an assignment may list them
  g.rebalances = 4;
  g.fenced_batches = 2;
  g.last_rebalance_at_ms = 1'796'551'200'123;  // 2026-12-06T10:00:00.123Z
  return g;
}

// A job that owns partitions 1, 3 and 5 of a six-partition topic reports lag for those only.
StatusSnapshot grouped_snapshot() {
  JobStatus status;
  status.set_query_id("3f2a9c1e-0000-4000-8000-000000000001");
  status.set_lag({{1, 10, 12}, {3, 20, 20}, {5, 0, 4}}, kNowMs - 1000);
  status.set_group(a_group());
  return status.snapshot();
}

TEST(JobStatusGroup, AbsentUntilSetThenReplacedWholeWithOwnedSorted) {
  JobStatus status;
  EXPECT_FALSE(status.snapshot().group.has_value());
  EXPECT_FALSE(in_group(status.snapshot()));

  status.set_group(a_group());
  auto s = status.snapshot();
  ASSERT_TRUE(s.group.has_value());
  EXPECT_TRUE(in_group(s));
  EXPECT_EQ(s.group->owned, (std::vector<int32_t>{1, 3, 5}));
  EXPECT_EQ(s.group->member_id, "rdkafka-6f1c2b9e-3a4d-4e55-9b0a-0c1d2e3f4a5b");

  GroupStatus after = a_group();
  after.owned = {4, 0};
  after.rebalances = 5;
  status.set_group(after);
  s = status.snapshot();
  EXPECT_EQ(s.group->owned, (std::vector<int32_t>{0, 4}));
  EXPECT_EQ(s.group->rebalances, 5);
}

TEST(StatusJsonGroup, NoGroupObjectForASingleInstance) {
  JobStatus status;
  status.set_lag({{0, 1, 2}, {1, 3, 3}});
  simdjson::dom::parser parser;
  simdjson::dom::object doc = parser.parse(status_json(status.snapshot(), StatusInfo{}, kNowMs));
  EXPECT_EQ(doc["group"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(simdjson::dom::array(doc["lag"]).size(), 2u);

  // A group id left empty means no group, whatever else is set.
  GroupStatus empty = a_group();
  empty.group_id.clear();
  status.set_group(empty);
  simdjson::dom::object again = parser.parse(status_json(status.snapshot(), StatusInfo{}, kNowMs));
  EXPECT_EQ(again["group"].error(), simdjson::NO_SUCH_FIELD);
}

TEST(StatusJsonGroup, GroupObjectWithTheEnginesNumbers) {
  simdjson::dom::parser parser;
  simdjson::dom::object doc = parser.parse(status_json(grouped_snapshot(), StatusInfo{}, kNowMs));
  simdjson::dom::object g = doc["group"];
  EXPECT_EQ(std::string_view(g["groupId"]), "kpipe-events");
  EXPECT_EQ(std::string_view(g["memberId"]), "rdkafka-6f1c2b9e-3a4d-4e55-9b0a-0c1d2e3f4a5b");
  std::vector<int64_t> owned;
  for (auto p : simdjson::dom::array(g["ownedPartitions"])) owned.push_back(int64_t(p));
  EXPECT_EQ(owned, (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(int64_t(g["rebalances"]), 4);
  EXPECT_EQ(int64_t(g["fencedBatches"]), 2);
  EXPECT_EQ(std::string_view(g["lastRebalanceAt"]), "2026-12-06T10:00:00.123Z");

  // The lag rows are the owned partitions, not 0..N-1.
  std::vector<int64_t> lag_partitions;
  for (auto l : simdjson::dom::array(doc["lag"])) lag_partitions.push_back(int64_t(l["partition"]));
  EXPECT_EQ(lag_partitions, (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(int64_t(doc["totalLag"]), 6);
}

TEST(StatusJsonGroup, JoinedButNotYetRebalancedHasNullTimeAndNoPartitions) {
  GroupStatus joining;
  joining.group_id = "kpipe-events";  // member id "" until the first join completes
  JobStatus status;
  status.set_group(joining);
  simdjson::dom::parser parser;
  simdjson::dom::object doc = parser.parse(status_json(status.snapshot(), StatusInfo{}, kNowMs));
  simdjson::dom::object g = doc["group"];
  EXPECT_EQ(std::string_view(g["memberId"]), "");
  EXPECT_EQ(simdjson::dom::array(g["ownedPartitions"]).size(), 0u);
  EXPECT_EQ(int64_t(g["rebalances"]), 0);
  EXPECT_TRUE(g["lastRebalanceAt"].is_null());
}

TEST(JobMetricsGroup, NoGroupSeriesForASingleInstance) {
  JobStatus status;
  status.set_lag({{0, 1, 2}});
  auto text = render_job_metrics(status.snapshot(), StatusInfo{}, kNowMs);
  auto m = check_exposition(text);
  ASSERT_TRUE(m.ok()) << m.error_text() << text;
  EXPECT_TRUE(m.has("kpipe_consumer_lag_records{partition=\"0\"}"));
  EXPECT_EQ(text.find("kpipe_group_"), std::string::npos) << text;
}

TEST(JobMetricsGroup, RebalancesOwnedPartitionsAndFencedBatches) {
  auto text = render_job_metrics(grouped_snapshot(), StatusInfo{}, kNowMs);
  auto m = check_exposition(text);
  ASSERT_TRUE(m.ok()) << m.error_text() << text;
  EXPECT_EQ(m.types["kpipe_group_rebalances_total"], "counter");
  EXPECT_EQ(m.value("kpipe_group_rebalances_total"), 4);
  EXPECT_EQ(m.types["kpipe_group_owned_partitions"], "gauge");
  EXPECT_EQ(m.value("kpipe_group_owned_partitions"), 3);
  EXPECT_EQ(m.types["kpipe_group_partition_owned"], "gauge");
  for (int p : {1, 3, 5}) {
    EXPECT_EQ(m.value("kpipe_group_partition_owned{partition=\"" + std::to_string(p) + "\"}"), 1) << p;
    // Joins with the lag series on the same label.
    EXPECT_TRUE(m.has("kpipe_consumer_lag_records{partition=\"" + std::to_string(p) + "\"}")) << p;
  }
  for (int p : {0, 2, 4}) EXPECT_FALSE(m.has("kpipe_group_partition_owned{partition=\"" + std::to_string(p) + "\"}"));
  EXPECT_EQ(m.types["kpipe_group_fenced_batches_total"], "counter");
  EXPECT_EQ(m.value("kpipe_group_fenced_batches_total"), 2);
  EXPECT_DOUBLE_EQ(m.value("kpipe_group_last_rebalance_timestamp_seconds"), 1'796'551'200.123);
  EXPECT_NE(text.find("kpipe_group_partition_owned{partition=\"1\"} 1\n"
                      "kpipe_group_partition_owned{partition=\"3\"} 1\n"
                      "kpipe_group_partition_owned{partition=\"5\"} 1\n"),
            std::string::npos)
      << text;
}

TEST(JobMetricsGroup, OwningNothingIsZeroNotMissing) {
  GroupStatus idle;  // joined, no assignment yet (or more instances than partitions)
  idle.group_id = "kpipe-events";
  idle.member_id = "rdkafka-1";
  JobStatus status;
  status.set_group(idle);
  auto text = render_job_metrics(status.snapshot(), StatusInfo{}, kNowMs);
  auto m = check_exposition(text);
  ASSERT_TRUE(m.ok()) << m.error_text() << text;
  EXPECT_EQ(m.value("kpipe_group_owned_partitions"), 0);
  EXPECT_EQ(m.value("kpipe_group_rebalances_total"), 0);
  EXPECT_EQ(m.value("kpipe_group_fenced_batches_total"), 0);
  EXPECT_EQ(m.help.count("kpipe_group_partition_owned"), 1u);
  EXPECT_EQ(text.find("kpipe_group_partition_owned{"), std::string::npos);
  EXPECT_FALSE(m.has("kpipe_group_last_rebalance_timestamp_seconds"));
}

}  // namespace
}  // namespace kpipe
