#include "kafka/group_member.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "common/log.h"
#include "common/time_util.h"
#include "common/wakeup.h"
#include "kafka/kafka_config.h"

namespace kpipe {
namespace {

constexpr std::chrono::milliseconds kCloseDeadline{10000};
constexpr std::chrono::milliseconds kLastCommitDeadline{5000};

using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;

std::string partition_names(const rd_kafka_topic_partition_list_t* list) {
  std::string s;
  for (int i = 0; i < list->cnt; ++i) s += (i ? "," : "") + std::to_string(list->elems[i].partition);
  return s.empty() ? "none" : s;
}

void log_error_object(rd_kafka_error_t* error, const char* what) {
  if (!error) return;
  log_warn("group", std::string(what) + ": " + rd_kafka_error_string(error));
  rd_kafka_error_destroy(error);
}

// What the rebalance callback (librdkafka's threads) and the job thread share.
struct State {
  KafkaErrorLog log{"group"};
  std::string topic;
  std::chrono::milliseconds revoke_wait{0};
  // GroupOptions::wakeup; cleared before the member leaves, whose close outlives no Wakeup.
  std::atomic<Wakeup*> wakeup{nullptr};
  mutable std::mutex mu;
  std::condition_variable cv;
  std::map<int32_t, int64_t> owned;
  std::map<int32_t, int64_t> assignments;  // partition → times assigned so far
  bool in_flight = false;
  bool revoking = false;
  int64_t rebalances = 0;
  int64_t last_rebalance_ms = 0;
  std::map<int32_t, int64_t> last_commit;  // the offsets committed last, committed again on leaving
  // From a revocation to the assignment that ends the rebalance, the member rejoins, and a commit
  // carries a generation the group has left: the broker answers ILLEGAL_GENERATION, which
  // librdkafka takes for a lost assignment (every partition revoked, one more rebalance). Commits
  // wait meanwhile; `unsent` holds them.
  bool rejoining = false;
  std::map<int32_t, int64_t> unsent;
};

void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  static_cast<State*>(opaque)->log.on_error(err, reason);
}

void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  static_cast<State*>(rd_kafka_opaque(rk))->log.on_log(level, facility, message);
}

void assigned(rd_kafka_t* rk, State& st, rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
  // From the end, and paused: this client never reads (KafkaSource does).
  for (int i = 0; i < partitions->cnt; ++i) partitions->elems[i].offset = RD_KAFKA_OFFSET_END;
  if (cooperative) {
    log_error_object(rd_kafka_incremental_assign(rk, partitions), "incremental assign");
  } else {
    rd_kafka_assign(rk, partitions);
  }
  rd_kafka_pause_partitions(rk, partitions);
  {
    std::lock_guard<std::mutex> lock(st.mu);
    for (int i = 0; i < partitions->cnt; ++i) {
      const int32_t p = partitions->elems[i].partition;
      st.owned[p] = ++st.assignments[p];
    }
    st.rejoining = false;
    ++st.rebalances;
    st.last_rebalance_ms = wall_clock_ms();
  }
  if (Wakeup* w = st.wakeup.load()) w->notify();
}

void revoked(rd_kafka_t* rk, State& st, rd_kafka_topic_partition_list_t* partitions, bool cooperative) {
  const bool lost = rd_kafka_assignment_lost(rk);
  {
    std::unique_lock<std::mutex> lock(st.mu);
    if (!lost) {
      // Let the batch in flight commit (or fail) before the partitions go to another instance.
      st.revoking = true;
      if (!st.cv.wait_for(lock, st.revoke_wait, [&] { return !st.in_flight; })) {
        log_warn("group", "revoking partitions " + partition_names(partitions) +
                              ": the batch in flight did not end in " + std::to_string(st.revoke_wait.count()) +
                              " ms; letting them go (its commit will be refused if the next owner claims them first)");
      }
      st.revoking = false;
    }
    for (int i = 0; i < partitions->cnt; ++i) {
      st.owned.erase(partitions->elems[i].partition);
      st.unsent.erase(partitions->elems[i].partition);
    }
    st.rejoining = true;
    ++st.rebalances;
    st.last_rebalance_ms = wall_clock_ms();
  }
  st.cv.notify_all();
  if (Wakeup* w = st.wakeup.load()) w->notify();
  if (cooperative) {
    log_error_object(rd_kafka_incremental_unassign(rk, partitions), "incremental unassign");
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  State& st = *static_cast<State*>(opaque);
  const char* protocol = rd_kafka_rebalance_protocol(rk);
  const bool cooperative = protocol && std::strcmp(protocol, "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // (A cooperative rebalance that gives this instance nothing new calls with an empty list.)
    if (partitions->cnt > 0)
      log_info("group", "assigned partitions " + partition_names(partitions) + " of " + st.topic);
    assigned(rk, st, partitions, cooperative);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    log_info("group", std::string(rd_kafka_assignment_lost(rk) ? "lost" : "revoked") + " partitions " +
                          partition_names(partitions) + " of " + st.topic);
    revoked(rk, st, partitions, cooperative);
  } else {
    log_warn("group", std::string("rebalance failed: ") + rd_kafka_err2str(err));
    revoked(rk, st, partitions, false);
  }
}

class KafkaGroupMember final : public GroupMembership {
 public:
  explicit KafkaGroupMember(std::shared_ptr<State> state) : st_(std::move(state)) {}

  ~KafkaGroupMember() override {
    quit_ = true;
    if (poller_.joinable()) poller_.join();
    if (!rk_) return;
    st_->wakeup.store(nullptr);
    commit_last();
    // consumer_close leaves the group at once (the others get the partitions without waiting for
    // session.timeout.ms); it calls the rebalance callback, which finds no batch in flight.
    destroy_kafka_client(rk_, true, kCloseDeadline, "leaving the consumer group", st_);
  }

  Status start(const GroupOptions& o) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    Status s = apply_kafka_properties(conf, {
                                                {"bootstrap.servers", o.bootstrap_servers},
                                                {"client.id", o.client_id},
                                                {"group.id", o.group_id},
                                                {"partition.assignment.strategy", "cooperative-sticky"},
                                                {"enable.auto.commit", "true"},
                                                {"auto.commit.interval.ms", "1000"},
                                                {"enable.auto.offset.store", "false"},
                                                {"enable.partition.eof", "false"},
                                                // A rebalance is heard of at the next heartbeat:
                                                // 3 s by default, which each phase of a
                                                // cooperative rebalance waited for.
                                                {"heartbeat.interval.ms", "1000"},
                                                {"socket.keepalive.enable", "true"},
                                            });
    if (s.ok()) s = apply_user_kafka_props(conf, o.kafka_props);
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, st_.get());
    char err[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk_) {
      rd_kafka_conf_destroy(conf);
      return Status::fatal(std::string("GROUP_ID: cannot create the group's Kafka consumer: ") + err,
                           StatusCode::kInvalidArgument);
    }
    rd_kafka_poll_set_consumer(rk_);
    PartitionList topics(rd_kafka_topic_partition_list_new(1), rd_kafka_topic_partition_list_destroy);
    rd_kafka_topic_partition_list_add(topics.get(), o.topic.c_str(), RD_KAFKA_PARTITION_UA);
    const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::retriable("GROUP_ID=" + o.group_id + ": cannot subscribe to " + o.topic + ": " +
                               rd_kafka_err2str(e));
    }
    poller_ = std::thread([this] { poll_loop(); });
    return Status::success();
  }

  GroupView begin_batch(std::chrono::milliseconds wait) override {
    std::unique_lock<std::mutex> lock(st_->mu);
    st_->cv.wait_for(lock, wait, [&] { return !st_->revoking; });
    st_->in_flight = true;
    return view_locked();
  }

  void end_batch() override {
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      st_->in_flight = false;
    }
    st_->cv.notify_all();
  }

  GroupView view() const override {
    std::lock_guard<std::mutex> lock(st_->mu);
    return view_locked();
  }

  void commit_offsets(const std::map<int32_t, int64_t>& next) override {
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      for (const auto& [p, o] : next) {
        if (st_->owned.count(p)) st_->unsent[p] = o;
      }
    }
    send_unsent();
  }

 private:
  GroupView view_locked() const {
    GroupView v;
    v.owned = st_->owned;
    v.rebalances = st_->rebalances;
    v.last_rebalance_ms = st_->last_rebalance_ms;
    if (char* id = rd_kafka_memberid(rk_)) {
      v.member_id = id;
      rd_kafka_mem_free(rk_, id);
    }
    return v;
  }

  // Offsets of the partitions owned now only: a commit for a partition another instance owns
  // would show that instance's lag wrong.
  PartitionList offsets_list(const std::map<int32_t, int64_t>& next) const {
    PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(next.size()) + 1),
                       rd_kafka_topic_partition_list_destroy);
    std::lock_guard<std::mutex> lock(st_->mu);
    for (const auto& [p, o] : next) {
      if (st_->owned.count(p)) rd_kafka_topic_partition_list_add(list.get(), st_->topic.c_str(), p)->offset = o;
    }
    return list;
  }

  // The offsets commit_offsets was given, unless the member is rejoining (see State::rejoining).
  void send_unsent() {
    std::map<int32_t, int64_t> next;
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      if (st_->rejoining || st_->unsent.empty()) return;
      next.swap(st_->unsent);
      for (const auto& [p, o] : next) st_->last_commit[p] = o;
    }
    PartitionList list = offsets_list(next);
    if (list->cnt == 0) return;
    // Stored; librdkafka's auto-commit sends them every auto.commit.interval.ms, when its group
    // state allows (a commit it sent itself during a rebalance failed and lost the assignment).
    const rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk_, list.get());
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) log_warn("group", std::string("storing offsets: ") + rd_kafka_err2str(e));
  }

  // The last offsets once more, waited for (at most kLastCommitDeadline): an asynchronous commit
  // still in flight when the member leaves may be dropped, and the group would show lag that is
  // not there.
  void commit_last() {
    std::map<int32_t, int64_t> last;
    {
      std::lock_guard<std::mutex> lock(st_->mu);
      last = st_->last_commit;
      for (const auto& [p, o] : st_->unsent) last[p] = o;
    }
    PartitionList list = offsets_list(last);
    if (list->cnt == 0) return;
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
    rd_kafka_commit_queue(rk_, list.get(), q, nullptr, nullptr);
    if (rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(kLastCommitDeadline.count()))) {
      if (rd_kafka_event_error(ev)) {
        log_warn("group", std::string("committing the last offsets: ") + rd_kafka_event_error_string(ev));
      }
      rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
  }

  void poll_loop() {
    while (!quit_) {
      // Serves the rebalance callback; a record (a partition fetched before it was paused) is dropped.
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 200)) {
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          st_->log.on_error(m->err, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
      }
      send_unsent();  // those held back while the member rejoined
    }
  }

  std::shared_ptr<State> st_;
  rd_kafka_t* rk_ = nullptr;
  std::thread poller_;
  std::atomic<bool> quit_{false};
};

}  // namespace

Result<std::unique_ptr<GroupMembership>> join_kafka_group(const GroupOptions& options) {
  auto state = std::make_shared<State>();
  state->topic = options.topic;
  state->revoke_wait = options.revoke_wait;
  state->wakeup = options.wakeup;
  auto member = std::make_unique<KafkaGroupMember>(state);
  KPIPE_RETURN_IF_ERROR(member->start(options));
  return std::unique_ptr<GroupMembership>(std::move(member));
}

}  // namespace kpipe
