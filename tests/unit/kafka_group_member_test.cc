// KafkaGroupMember (GROUP_ID's membership) on librdkafka's mock cluster: the coordinator's
// assignment reaches view(), and the rebalance notifies GroupOptions::wakeup, which is what ends
// the job's wait between batches early. Real instances on a real broker:
// tests/integration/test_group.py.
#include <gtest/gtest.h>

#include <chrono>

#include "common/wakeup.h"
#include "kafka/group_member.h"
#include "kafka_mock_cluster.h"

namespace kpipe {
namespace {

TEST(KafkaGroupMember, AnAssignmentNotifiesTheWakeup) {
  MockCluster cluster("events", 4);
  Wakeup wakeup;
  ASSERT_TRUE(wakeup.valid());
  GroupOptions o;
  o.bootstrap_servers = cluster.bootstraps();
  o.topic = "events";
  o.group_id = "kpipe-test";
  o.wakeup = &wakeup;
  auto member = join_kafka_group(o);
  ASSERT_TRUE(member.ok()) << member.status().message();

  // Only a notify ends a wait before its deadline: reaching the assignment before the deadline
  // means the rebalance woke this thread.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while ((*member)->view().owned.size() < 4 && std::chrono::steady_clock::now() < deadline) {
    wakeup.wait_until(deadline);
  }
  EXPECT_LT(std::chrono::steady_clock::now(), deadline) << "no rebalance notified the Wakeup";
  const GroupView view = (*member)->view();
  EXPECT_EQ(view.owned.size(), 4u);
  EXPECT_GE(view.rebalances, 1);
  member->reset();  // leaves the group: its revocation must not touch a Wakeup it was told to forget
}

}  // namespace
}  // namespace kpipe
