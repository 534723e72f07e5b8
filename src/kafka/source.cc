#include "kafka/source.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "kafka/consumer_settings.h"
#include "kafka/kafka_config.h"

namespace kpipe {

struct KafkaSource::ErrorState {
  KafkaErrorLog log{"kafka"};
};

namespace {

// How long closing the clients may take at shutdown (a clean close takes milliseconds).
constexpr std::chrono::milliseconds kShutdownDeadline{10000};

constexpr int kConsumeBatch = 4096;
// Least prefetch budget of a partition: four of PrefetchBuffer's smallest chunks.
constexpr size_t kMinBudget = 64u << 10;

// librdkafka decompresses a whole producer batch (up to the producer's batch.size, 1 MB for
// librdkafka producers) and every message of it points into that buffer, plus about 0.35 KiB
// of its own a message, until the message is destroyed or purged: a partition being fetched
// holds about 2 MiB in librdkafka whatever its prefetch share. So only this many partitions
// with a backlog are fetched at once (prefetch_bytes / 2 MiB, at least 4); the others wait
// paused. 96 partitions all fetched at once held 96 decompressed batches (150 MB, heaptrack).
constexpr size_t kClientBytesPerFetchingPartition = 2u << 20;
constexpr size_t kMinFetchSlots = 4;
// A fetching partition that has received nothing for this long (fetch errors, a slow leader)
// gives up its slot to the next one.
constexpr std::chrono::milliseconds kFetchSlotIdle{500};

std::string err_text(rd_kafka_resp_err_t err) { return rd_kafka_err2str(err); }

// librdkafka's timestamp types as Kafka's TimestampType ids (what Spark's timestampType column holds).
int8_t kafka_timestamp_type(rd_kafka_timestamp_type_t type) {
  switch (type) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME: return static_cast<int8_t>(KafkaTimestampType::kCreateTime);
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME: return static_cast<int8_t>(KafkaTimestampType::kLogAppendTime);
    case RD_KAFKA_TIMESTAMP_NOT_AVAILABLE: break;
  }
  return static_cast<int8_t>(KafkaTimestampType::kNone);
}

// Appends the message's headers to `arena` in PackedHeaders form; nothing when it has none.
void pack_headers(const rd_kafka_message_t* m, std::string& arena) {
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) != RD_KAFKA_RESP_ERR_NO_ERROR || !headers) return;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    const std::string_view n(name);
    const std::string_view v(static_cast<const char*>(value), value ? size : 0);
    const size_t at = arena.size();
    arena.resize(at + PackedHeaders::packed_size(n, v));
    PackedHeaders::write(arena.data() + at, n, v, value == nullptr);
  }
}

void on_client_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  static_cast<KafkaSource::ErrorState*>(opaque)->log.on_error(err, reason);
}

void on_client_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  static_cast<KafkaSource::ErrorState*>(rd_kafka_opaque(rk))->log.on_log(level, facility, message);
}

}  // namespace

KafkaSource::KafkaSource(SourceOptions options)
    : options_(std::move(options)),
      buffer_(std::make_unique<PrefetchBuffer>()),
      errors_(std::make_shared<ErrorState>()) {}

KafkaSource::~KafkaSource() {
  stop_prefetch();
  for (auto& [p, q] : queues_) {
    rd_kafka_queue_io_event_enable(q, -1, nullptr, 0);
    rd_kafka_queue_destroy(q);
  }
  close_consumer();
  destroy_kafka_client(meta_, false, kShutdownDeadline, "closing the metadata client", errors_);
  meta_ = nullptr;
  for (int fd : wake_) {
    if (fd >= 0) ::close(fd);
  }
}

Result<rd_kafka_t*> KafkaSource::new_client(const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  Status st = apply_kafka_properties(conf, settings);
  if (st.ok()) st = apply_user_kafka_props(conf, options_.kafka_props);
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  rd_kafka_conf_set_error_cb(conf, on_client_error);
  rd_kafka_conf_set_log_cb(conf, on_client_log);
  rd_kafka_conf_set_opaque(conf, errors_.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::fatal(std::string("cannot create Kafka consumer: ") + err);
  }
  return rk;
}

Result<std::unique_ptr<KafkaSource>> KafkaSource::open(const SourceOptions& options) {
  std::unique_ptr<KafkaSource> src(new KafkaSource(options));
  // Both ends non-blocking: librdkafka must never block writing a wake-up, nor the read loop
  // draining them.
  if (::pipe2(src->wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::fatal(std::string("cannot create the Kafka source's wake-up pipe: ") + std::strerror(errno));
  }
  // Made now, so that bad settings fail the start rather than the first batch.
  KPIPE_RETURN_IF_ERROR(src->metadata_client().status());
  return src;
}

Result<rd_kafka_t*> KafkaSource::metadata_client() {
  if (meta_) return meta_;
  // Metadata and watermarks go through a client of their own, on a connection of its own: the
  // broker answers a connection's requests in order, so behind the consumer's fetches every
  // watermark query waited for a fetch, up to fetch.wait.max.ms once the partitions it fetched
  // were at their end (100 ms each: 64 partitions made planning a batch take 7 s).
  KPIPE_ASSIGN_OR_RETURN(meta_, new_client({
                                    {"bootstrap.servers", options_.bootstrap_servers},
                                    {"client.id", options_.client_id + "-metadata"},
                                    {"group.id", "kpipe-stream-" + options_.topic},
                                    {"enable.auto.commit", "false"},
                                    {"socket.keepalive.enable", "true"},
                                }));
  ++metadata_clients_made_;
  return meta_;
}

Result<rd_kafka_t*> KafkaSource::planning_client() {
  // Resting with every assigned partition paused, the consumer has no fetch in flight that a
  // query would wait behind: its own connection answers the plan, and the metadata client
  // idle() closed is not made again each trigger (a connection, a metadata request, four
  // threads: about 6% of the CPU at 1,000 events/s with TRIGGER_SECONDS=30).
  if (!meta_ && rk_ && resting_.load() && all_paused()) return rk_;
  return metadata_client();
}

bool KafkaSource::all_paused() const {
  std::lock_guard<std::mutex> lock(paused_mu_);
  if (queues_.empty()) return false;
  for (const auto& [p, q] : queues_) {
    if (!paused_.count(p)) return false;
  }
  return true;
}

void KafkaSource::idle(std::chrono::milliseconds wait) {
  if (wait < kLongIdle) return;
  if (!resting_.exchange(true) && wake_[1] >= 0) {
    static constexpr char kWake = 5;  // pause what needs no more at once
    (void)!::write(wake_[1], &kWake, 1);
  }
  if (!meta_) return;
  destroy_kafka_client(meta_, false, kShutdownDeadline, "closing the metadata client", errors_);
  meta_ = nullptr;
}

void KafkaSource::close_consumer() {
  if (!rk_) return;
  rd_kafka_assign(rk_, nullptr);
  destroy_kafka_client(rk_, true, kShutdownDeadline, "closing the consumer", errors_);
  rk_ = nullptr;
}

std::string KafkaSource::last_client_error() const { return errors_->log.last_error(); }

Result<std::vector<int32_t>> KafkaSource::partitions() {
  KPIPE_ASSIGN_OR_RETURN(rd_kafka_t * meta, planning_client());
  rd_kafka_topic_t* topic = rd_kafka_topic_new(meta, options_.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(meta, 0, topic, &md, static_cast<int>(options_.request_timeout.count()));
  rd_kafka_topic_destroy(topic);
  // Serves the error callback, so the message says why ("cannot reach ...", "authentication
  // failed ...") rather than librdkafka's bare "Broker transport failure".
  rd_kafka_poll(meta, 0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::string detail = last_client_error();
    std::string message = "cannot read metadata of topic '" + options_.topic + "' from " + options_.bootstrap_servers +
                          ": " + err_text(err) + (detail.empty() ? "" : " (" + detail + ")");
    // Wrong credentials do not get better by retrying; the Java client fails the same way.
    if (errors_->log.last_error_is_authentication()) {
      return Status::fatal(message + ": check the security settings (--kafka-prop sasl.*, ssl.*, security.protocol)");
    }
    return Status::retriable(message);
  }
  std::vector<int32_t> ids;
  Status status;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      // Retriable: the topic may be created later. A re-created topic that is behind the
      // checkpoint's offsets is refused by the planner.
      status = Status::retriable("topic '" + options_.topic + "' does not exist on " + options_.bootstrap_servers +
                                 " (not created yet, or deleted)");
      break;
    }
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = Status::retriable("topic '" + options_.topic + "' is not available on " + options_.bootstrap_servers +
                                 ": " + err_text(t.err));
      break;
    }
    for (int j = 0; j < t.partition_cnt; ++j) ids.push_back(t.partitions[j].id);
  }
  rd_kafka_metadata_destroy(md);
  if (!status.ok()) return status;
  if (ids.empty()) {
    return Status::retriable("topic '" + options_.topic + "' does not exist on " + options_.bootstrap_servers);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<Watermarks> KafkaSource::watermarks(int32_t partition) {
  KPIPE_ASSIGN_OR_RETURN(auto marks, watermarks(std::vector<int32_t>{partition}));
  return marks.at(partition);
}

Status KafkaSource::list_offsets(rd_kafka_t* client, rd_kafka_topic_partition_list_t* list, int64_t which,
                                 std::chrono::milliseconds timeout) {
  for (int i = 0; i < list->cnt; ++i) list->elems[i].offset = which;
  // A logical offset as the "timestamp" asks ListOffsets for the first or the next offset,
  // as rd_kafka_query_watermark_offsets does, but for all partitions of a leader at once.
  const rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(client, list, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retriable("cannot read offsets of " + options_.topic + ": " + err_text(err));
  }
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::retriable("cannot read offsets of " + options_.topic + "/" +
                               std::to_string(list->elems[i].partition) + ": " + err_text(list->elems[i].err));
    }
  }
  return Status::success();
}

Result<std::map<int32_t, Watermarks>> KafkaSource::watermarks(const std::vector<int32_t>& partitions) {
  std::map<int32_t, Watermarks> marks;
  if (partitions.empty()) return marks;
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())), rd_kafka_topic_partition_list_destroy);
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), p);
  KPIPE_ASSIGN_OR_RETURN(rd_kafka_t * meta, planning_client());
  KPIPE_RETURN_IF_ERROR(list_offsets(meta, list.get(), RD_KAFKA_OFFSET_BEGINNING, options_.request_timeout));
  for (int i = 0; i < list->cnt; ++i) marks[list->elems[i].partition].low = list->elems[i].offset;
  KPIPE_RETURN_IF_ERROR(list_offsets(meta, list.get(), RD_KAFKA_OFFSET_END, options_.request_timeout));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.offset < 0) {  // left at the logical offset: the leader did not answer for it
      return Status::retriable("no end offset for " + options_.topic + "/" + std::to_string(e.partition));
    }
    Watermarks& w = marks[e.partition];
    w.high = e.offset;
    if (w.low < 0) w.low = w.high;  // an empty partition may answer "none" for its beginning
  }
  return marks;
}

Result<std::map<int32_t, int64_t>> KafkaSource::high_watermarks(const std::vector<int32_t>& partitions,
                                                                std::chrono::milliseconds timeout) {
  std::map<int32_t, int64_t> high;
  if (partitions.empty()) return high;
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())), rd_kafka_topic_partition_list_destroy);
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list.get(), options_.topic.c_str(), p);
  // While idle() has the metadata client closed, the consumer's own connection answers: behind a
  // fetch in flight the reply may wait up to fetch.wait.max.ms, which the lag between batches can
  // afford (planning could not). Making the client again here, every lag sample of a paused
  // partition would undo idle().
  rd_kafka_t* client = meta_ ? meta_ : rk_;
  if (!client) {
    KPIPE_ASSIGN_OR_RETURN(client, metadata_client());
  }
  KPIPE_RETURN_IF_ERROR(list_offsets(client, list.get(), RD_KAFKA_OFFSET_END, timeout));
  for (int i = 0; i < list->cnt; ++i) {
    if (list->elems[i].offset >= 0) high[list->elems[i].partition] = list->elems[i].offset;
  }
  return high;
}

std::map<int32_t, int64_t> KafkaSource::cached_high_watermarks(const std::vector<int32_t>& partitions) {
  std::map<int32_t, int64_t> high;
  if (!rk_ || !prefetcher_.joinable()) return high;
  std::lock_guard<std::mutex> lock(paused_mu_);
  for (int32_t p : partitions) {
    if (!queues_.count(p) || paused_.count(p)) continue;
    int64_t low = -1, hi = -1;
    // RD_KAFKA_OFFSET_INVALID until the first fetch response of the assignment.
    if (rd_kafka_get_watermark_offsets(rk_, options_.topic.c_str(), p, &low, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        hi >= 0) {
      high[p] = hi;
    }
  }
  return high;
}

std::optional<int64_t> KafkaSource::held_timestamp_ms(int32_t partition, int64_t offset) {
  if (auto it = first_read_.find(partition); it != first_read_.end() && it->second.first == offset) {
    return it->second.second;
  }
  auto pos = position_.find(partition);
  if (pos == position_.end() || pos->second != offset || !buffer_) return std::nullopt;
  auto first = buffer_->first_record(partition);
  if (!first || first->first < offset || first->second < 0) return std::nullopt;
  return first->second;
}

std::vector<PartitionRange> KafkaSource::held_ranges() {
  std::vector<PartitionRange> held;
  if (!buffer_) return held;
  for (const auto& [partition, to] : buffer_->held_to()) {
    auto pos = position_.find(partition);
    if (pos != position_.end() && to > pos->second) held.push_back(PartitionRange{partition, pos->second, to});
  }
  return held;
}

void KafkaSource::set_demanded(std::map<int32_t, int64_t> range_ends) {
  {
    std::lock_guard<std::mutex> lock(demand_mu_);
    if (!range_ends.empty()) resting_.store(false);  // a read: fetch as usual until the next idle()
    demanded_ = std::move(range_ends);
  }
  demand_version_.fetch_add(1, std::memory_order_release);
  static constexpr char kWake = 4;  // a paused partition the read waits for may be resumed now
  (void)!::write(wake_[1], &kWake, 1);
}

Status KafkaSource::assign(const std::vector<PartitionRange>& ranges) {
  bool same = true;
  for (const auto& r : ranges) {
    auto it = position_.find(r.partition);
    if (it == position_.end() || it->second != r.start) same = false;
  }
  if (same && !ranges.empty() && !reassign_) return Status::success();
  reassign_ = false;

  // Reassign everything: simpler than seeking, and rare (first batch, replay, new partitions).
  stop_prefetch();
  buffer_->clear();
  // The budget is shared out, so memory is bounded by prefetch_bytes whatever the partition count
  // (a floor of 2 MiB each made 96 partitions hold 192 MiB).
  buffer_->set_budget(std::max<size_t>(options_.prefetch_bytes / std::max<size_t>(ranges.size(), 1), kMinBudget));
  if (!position_.empty()) rd_kafka_assign(rk_, nullptr);  // drops what was prefetched for the old offsets
  for (auto& [p, q] : queues_) {
    rd_kafka_queue_io_event_enable(q, -1, nullptr, 0);
    rd_kafka_queue_destroy(q);
  }
  queues_.clear();
  position_.clear();
  first_read_.clear();
  if (!rk_ || client_partitions_ != ranges.size()) {
    // The consumer is made for the number of partitions it reads (see stream_consumer_settings):
    // at the first batch, and again only when partitions are added.
    close_consumer();
    KPIPE_ASSIGN_OR_RETURN(
        rk_, new_client(stream_consumer_settings(options_.bootstrap_servers, options_.client_id, options_.fetch_wait,
                                                 options_.topic, ranges.size())));
    client_partitions_ = ranges.size();
  }
  // Each partition is read from its own queue, so a batch's rows come partition by partition
  // in offset order whatever order the fetches complete in: the same rows in the same files on
  // a re-run. Forwarding to the consumer queue must be cut before the assignment starts
  // fetching, or early messages land in the consumer queue while the partition queue reports
  // end-of-partition for offsets it never delivered.
  for (const auto& r : ranges) {
    rd_kafka_queue_t* q = rd_kafka_queue_get_partition(rk_, options_.topic.c_str(), r.partition);
    if (!q) return Status::retriable("no queue for " + options_.topic + "/" + std::to_string(r.partition));
    rd_kafka_queue_forward(q, nullptr);
    static constexpr char kWake = 1;
    rd_kafka_queue_io_event_enable(q, wake_[1], &kWake, 1);
    queues_[r.partition] = q;
  }
  hold_back(ranges);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(ranges.size()));
  for (const auto& r : ranges) {
    rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), r.partition)->offset = r.start;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    set_paused_all(held_back_, false);
    held_back_.clear();
    return Status::retriable("cannot assign partitions of " + options_.topic + ": " + err_text(err));
  }
  for (const auto& r : ranges) position_[r.partition] = r.start;
  start_prefetch();
  return Status::success();
}

void KafkaSource::keep_only(const std::vector<int32_t>& partitions) {
  const size_t before = position_.size();
  std::erase_if(position_,
                [&](const auto& kv) { return !std::binary_search(partitions.begin(), partitions.end(), kv.first); });
  if (position_.size() != before) reassign_ = true;
}

void KafkaSource::hold_back(const std::vector<PartitionRange>& ranges) {
  fetch_slots_ = std::max(kMinFetchSlots, options_.prefetch_bytes / kClientBytesPerFetchingPartition);
  held_back_.clear();
  // Paused before the assignment starts fetching (the queues made the partitions known), so
  // that the first fetches do not bring a producer batch of every partition at once.
  for (size_t i = fetch_slots_; i < ranges.size(); ++i) held_back_.insert(ranges[i].partition);
  held_back_ = set_paused_all(held_back_, true);
}

std::set<int32_t> KafkaSource::set_paused_all(const std::set<int32_t>& partitions, bool pause) {
  std::set<int32_t> done;
  if (partitions.empty()) return done;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list, options_.topic.c_str(), p);
  const rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(rk_, list) : rd_kafka_resume_partitions(rk_, list);
  for (int i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; ++i) {
    if (list->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) done.insert(list->elems[i].partition);
  }
  rd_kafka_topic_partition_list_destroy(list);
  std::lock_guard<std::mutex> lock(paused_mu_);
  for (int32_t p : done) {
    if (pause)
      paused_.insert(p);
    else
      paused_.erase(p);
  }
  return done;
}

size_t KafkaSource::client_queued_messages() const {
  size_t n = 0;
  for (const auto& [p, q] : queues_) n += rd_kafka_queue_length(q);
  return n;
}

struct KafkaSource::Cursor {
  PartitionRange range;
  rd_kafka_queue_t* queue = nullptr;
  int64_t next = 0;  // next offset wanted
  std::chrono::steady_clock::time_point last_progress;
  std::string where;  // "topic/partition", for messages
};

Status KafkaSource::read(const std::vector<PartitionRange>& ranges,
                         const std::function<void(const RawRecord&)>& on_record, const std::atomic<bool>& stop) {
  std::vector<PartitionRange> all = ranges;
  return read_upto(all, 0, on_record, stop);
}

Status KafkaSource::read_upto(std::vector<PartitionRange>& ranges, int64_t max_bytes,
                              const std::function<void(const RawRecord&)>& on_record, const std::atomic<bool>& stop) {
  std::vector<PartitionRange> todo;
  for (const auto& r : ranges) {
    if (r.end > r.start) todo.push_back(r);
  }
  if (todo.empty()) return Status::success();
  // Keep every partition assigned that was assigned, so prefetching goes on across batches, and
  // assign those this batch does not advance too: MAX_BATCH_RECORDS gives each batch a few
  // partitions in turn (batch_planner.h), and a partition new to the assignment means assigning
  // afresh, which drops what was fetched ahead.
  std::vector<PartitionRange> wanted = todo;
  for (const auto& r : ranges) {
    if (r.end <= r.start) wanted.push_back(PartitionRange{r.partition, r.start, r.start});
  }
  for (const auto& [p, pos] : position_) {
    const int32_t partition = p;  // clang before 16 cannot capture a structured binding (make lint)
    bool listed = std::any_of(wanted.begin(), wanted.end(), [&](const auto& r) { return r.partition == partition; });
    if (!listed) wanted.push_back(PartitionRange{p, pos, pos});
  }
  KPIPE_RETURN_IF_ERROR(assign(wanted));

  const auto now = std::chrono::steady_clock::now();
  std::vector<Cursor> active;
  std::map<int32_t, int64_t> demanded;
  for (const auto& r : todo) {
    active.push_back(Cursor{r, queues_.at(r.partition), position_.at(r.partition), now,
                            options_.topic + "/" + std::to_string(r.partition)});
    demanded[r.partition] = r.end;
  }
  set_demanded(demanded);
  Status failure;
  ReadBudget budget{max_bytes};
  while (!active.empty()) {
    if (stop.load(std::memory_order_relaxed)) {
      failure = Status::replay("stopping: read of " + active.front().where + " abandoned");
      break;
    }
    const uint64_t seen = buffer_->appended();
    bool got_any = false;
    for (auto& c : active) {
      failure = consume_available(c, on_record, got_any, budget);
      if (!failure.ok() || budget.full) break;
    }
    if (!failure.ok()) break;
    if (budget.full) {
      // MAX_BATCH_BYTES: every range ends where its partition stopped; the rest stays buffered.
      for (auto& c : active) {
        for (auto& r : ranges) {
          if (r.partition == c.range.partition) r.end = c.next;
        }
        c.range.end = c.next;
      }
    }
    const size_t before = active.size();
    std::erase_if(active, [this](const Cursor& c) {
      if (c.next < c.range.end) return false;
      position_[c.range.partition] = c.next;
      return true;
    });
    if (active.size() != before) {
      demanded.clear();
      for (const auto& c : active) demanded[c.range.partition] = c.range.end;
      set_demanded(demanded);
    }
    if (active.empty() || got_any) continue;
    const auto t = std::chrono::steady_clock::now();
    for (const auto& c : active) {
      if (t - c.last_progress <= options_.stall_timeout) continue;
      std::string detail = last_client_error();
      failure = Status::retriable("no data from " + c.where + " for " +
                                  std::to_string(options_.stall_timeout.count() / 1000) + " s while reading offsets " +
                                  std::to_string(c.next) + ".." + std::to_string(c.range.end) +
                                  (detail.empty() ? "" : " (" + detail + ")"));
      break;
    }
    if (!failure.ok()) break;
    buffer_->wait_for_data(seen, std::chrono::milliseconds(200));
  }
  set_demanded({});
  if (!failure.ok()) {
    // The queue state is unknown after a failure: start clean next time.
    position_.clear();
    return failure;
  }
  return Status::success();
}

Status KafkaSource::consume_available(Cursor& c, const std::function<void(const RawRecord&)>& on_record, bool& got_any,
                                      ReadBudget& budget) {
  Status failure;
  const int64_t before = c.next;
  size_t taken = 0;
  const bool freed = buffer_->consume(c.range.partition, [&](const PrefetchBuffer::Item& it) {
    // What lies past the range stays buffered for the next batch.
    if (!failure.ok() || c.next >= c.range.end) return false;
    using Kind = PrefetchBuffer::Kind;
    ++taken;
    switch (it.kind) {
      case Kind::kRecord:
        if (it.offset >= c.range.end) {
          --taken;
          return false;
        }
        if (it.offset >= c.next) {
          if (budget.max > 0 && budget.used >= budget.max) {  // checked before, so one record always goes
            budget.full = true;
            --taken;
            return false;
          }
          budget.used += static_cast<int64_t>(it.payload.size());
          if (c.next == c.range.start) first_read_[c.range.partition] = {c.range.start, it.timestamp_ms};
          RawRecord rec;
          rec.payload = it.payload;
          rec.partition = c.range.partition;
          rec.offset = it.offset;
          rec.timestamp_ms = it.timestamp_ms;
          rec.timestamp_type = static_cast<KafkaTimestampType>(it.timestamp_type);
          rec.topic = options_.topic;
          rec.key = it.key;
          rec.has_key = it.has_key;
          rec.headers = it.headers;
          on_record(rec);
          c.next = it.offset + 1;
        }
        return true;
      case Kind::kEnd:
        // Offsets below the high watermark that never arrive are transaction markers or
        // compacted away: the range is complete when the partition says it has no more.
        if (it.offset >= c.range.end) c.next = c.range.end;
        return true;
      case Kind::kOffsetLost:
        failure =
            Status::fatal("offsets " + std::to_string(c.next) + ".." + std::to_string(c.range.end) + " of " + c.where +
                          " are no longer in Kafka (deleted by retention?): " + std::string(it.payload));
        return true;
      case Kind::kError:
        failure = Status::retriable("reading " + c.where + ": " + std::string(it.payload));
        return true;
    }
    return true;
  });
  if (freed) {  // below half a full partition's budget: the prefetch thread may resume it
    static constexpr char kWake = 2;
    (void)!::write(wake_[1], &kWake, 1);
  }
  if (taken > 0 || c.next != before) {
    got_any = true;
    c.last_progress = std::chrono::steady_clock::now();
  }
  return failure;
}

void KafkaSource::start_prefetch() {
  if (prefetcher_.joinable()) return;
  prefetch_quit_.store(false);
  // A long-polling fetch may be ahead of the wake's request on the connection.
  waker_ = std::make_unique<FetchWaker>(rk_, options_.topic, options_.fetch_wait + std::chrono::seconds(2));
  prefetcher_ = std::thread([this] { prefetch_loop(); });
}

void KafkaSource::stop_prefetch() {
  if (!prefetcher_.joinable()) return;
  prefetch_quit_.store(true);
  static constexpr char kWake = 3;
  (void)!::write(wake_[1], &kWake, 1);
  prefetcher_.join();
  waker_.reset();
}

int KafkaSource::queued_min_messages() const {
  char value[32];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(rk_), "queued.min.messages", value, &size) != RD_KAFKA_CONF_OK) return 100000;
  return std::max(1, std::atoi(value));
}

void KafkaSource::prefetch_loop() {
  std::vector<rd_kafka_message_t*> msgs(kConsumeBatch);
  std::vector<PrefetchBuffer::Item> items;
  items.reserve(kConsumeBatch);
  // With SourceOptions::with_headers: one consume call's packed headers, and where each message's
  // start (item index, arena offset). Reused, so no allocation per message once grown.
  std::string arena;
  std::vector<std::pair<size_t, size_t>> header_spans;
  header_spans.reserve(kConsumeBatch);
  std::map<int32_t, int64_t> demanded;  // a copy of demanded_, taken when it changed
  // Per partition, the offset just past what this thread appended to the buffer. A partition
  // the read waits for is not paused for its share until it is fetched to its range's end, as
  // long as the whole buffer is under its budget: each pause in the middle of a range made the
  // read wait for a resume and a fetch round trip (at 96 partitions a share is about a thousand
  // seed events, a producer batch about seven times that).
  std::map<int32_t, int64_t> fetched_to;
  auto range_not_in = [&](int32_t partition) {
    auto d = demanded.find(partition);
    if (d == demanded.end()) return false;
    auto f = fetched_to.find(partition);
    return f == fetched_to.end() || f->second < d->second;
  };
  auto read_needs = [&](int32_t partition) {
    return range_not_in(partition) && buffer_->bytes() < options_.prefetch_bytes;
  };
  // Partitions this thread paused because their share of the buffer was full (after taking all
  // that librdkafka had fetched), or that assign() held back. Pausing (rather than leaving
  // messages queued in librdkafka) stops the next fetch; resuming wakes its broker thread at once.
  std::set<int32_t> paused = held_back_;
  std::vector<int32_t> to_wake;  // this round's partitions whose broker thread needs waking
  auto set_paused = [&](int32_t partition, bool pause, bool wake_broker) {
    if (set_paused_all({partition}, pause).empty()) return;  // tried again on the next round
    if (pause) {
      paused.insert(partition);
      pauses_.fetch_add(1, std::memory_order_relaxed);
      if (range_not_in(partition)) mid_range_pauses_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    paused.erase(partition);
    // librdkafka applies the resume on its main thread, but the broker thread that fetches
    // looks at the partition again only when something wakes it, up to a second later
    // (FetchWaker).
    if (wake_broker) to_wake.push_back(partition);
  };
  // librdkafka stops fetching a partition whose queue reached queued.min.messages (this thread
  // fell behind) and, like a resumed one, looks at it again only when its broker thread wakes.
  const int queue_limit = queued_min_messages();
  // Fetch slots (see kClientBytesPerFetchingPartition): a partition being fetched holds one while
  // it is not paused, has not reached its end (or an error) since it last received records, and
  // has received something within kFetchSlotIdle. A paused partition that wants more is resumed
  // only when a slot is free; the partitions are visited from a rotating start so that each
  // gets its turn.
  //
  // "Reached its end" (its last record at the high watermark, or an end-of-partition event)
  // counts for kFetchSlotIdle after the end: a partition a producer keeps writing to reaches its
  // end at every fetch and gets records again at the next, and never sends an end-of-partition
  // event. Holding a slot whenever it had records made four such partitions keep the held-back
  // ones waiting until their prefetch shares were full (6 partitions under a live producer: the
  // first batch read for 17 s). A partition with a backlog does not reach its end while it
  // drains, so it keeps its slot.
  std::set<int32_t> caught_up;
  uint64_t demand_seen = ~uint64_t{0};
  std::set<int32_t> overshot;  // full, but librdkafka still had messages queued after a consume call
  std::map<int32_t, std::chrono::steady_clock::time_point> last_data, last_end;
  std::vector<std::pair<int32_t, rd_kafka_queue_t*>> order(queues_.begin(), queues_.end());
  for (const auto& [partition, queue] : order) last_data[partition] = std::chrono::steady_clock::now();
  auto at_end = [&](int32_t partition, std::chrono::steady_clock::time_point now) {
    if (caught_up.count(partition)) return true;
    auto it = last_end.find(partition);
    return it != last_end.end() && now - it->second < kFetchSlotIdle;
  };
  // While the job waits out a long trigger (idle()), a partition needs no more than the first
  // record past what the job has read (the lag's exact age of the oldest uncommitted record);
  // the rest is fetched by the next batch's read in a few large fetches, as Spark reads a
  // trigger's offsets. Fetching on in between cost a fetch response of a few messages every
  // fetch wait and a wake-up of this thread for each.
  bool resting = false;
  auto enough = [&](int32_t partition) {
    return resting ? buffer_->first_record(partition).has_value() : buffer_->full(partition);
  };
  auto wants_more = [&](int32_t partition) {
    return resting ? !buffer_->first_record(partition) : buffer_->wants_more(partition);
  };
  size_t first = 0;  // where this round's visit starts
  while (!prefetch_quit_.load()) {
    // Drain the wake-up pipe before looking at the queues: a message that arrives after the
    // look leaves a byte behind, so the wait below returns at once instead of missing it.
    char sink[64];
    while (::read(wake_[0], sink, sizeof sink) > 0) {
    }
    const auto now = std::chrono::steady_clock::now();
    size_t fetching = 0;
    for (const auto& [partition, queue] : order) {
      if (!paused.count(partition) && !at_end(partition, now) && now - last_data[partition] < kFetchSlotIdle) {
        ++fetching;
      }
    }
    bool got_any = false;
    resting = resting_.load();
    if (const uint64_t v = demand_version_.load(std::memory_order_acquire); v != demand_seen) {
      std::lock_guard<std::mutex> lock(demand_mu_);
      demanded = demanded_;
      demand_seen = v;
    }
    for (size_t turn = 0; turn < order.size(); ++turn) {
      const auto [partition, queue] = order[(first + turn) % order.size()];
      if (paused.count(partition)) {
        const bool needed = read_needs(partition);
        if (!needed && !wants_more(partition)) continue;
        // The whole buffer at its budget: only what the read waits for is fetched. Each fetch
        // brings a whole producer batch (up to batch.size, 1 MB for librdkafka's producers)
        // whatever the partition's share, so without this every partition of a 96-partition
        // backlog came to hold one: memory grew with the partition count (heaptrack: 66 MB of
        // buffer against a 12.8 MB budget).
        if (!demanded.count(partition) && buffer_->bytes() >= options_.prefetch_bytes) continue;
        const bool needs_slot = !at_end(partition, now);
        if (needs_slot && fetching >= fetch_slots_) continue;
        set_paused(partition, false, true);
        if (paused.count(partition)) continue;
        last_data[partition] = now;
        if (needs_slot) ++fetching;
      } else if (enough(partition) && rd_kafka_queue_length(queue) == 0 && !read_needs(partition)) {
        set_paused(partition, true, false);
        overshot.erase(partition);
        continue;
      }
      const bool at_limit = static_cast<int>(rd_kafka_queue_length(queue)) >= queue_limit;
      ssize_t n = rd_kafka_consume_batch_queue(queue, 0, msgs.data(), msgs.size());
      if (n <= 0) continue;
      if (at_limit) to_wake.push_back(partition);
      got_any = true;
      last_data[partition] = now;
      items.clear();
      arena.clear();
      header_spans.clear();
      for (ssize_t i = 0; i < n; ++i) {
        const rd_kafka_message_t* m = msgs[i];
        PrefetchBuffer::Item it;
        it.offset = m->offset;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          it.kind = PrefetchBuffer::Kind::kEnd;
        } else if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE || m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
          it.kind = PrefetchBuffer::Kind::kOffsetLost;
          it.payload = rd_kafka_message_errstr(m);
        } else if (m->err) {
          it.kind = PrefetchBuffer::Kind::kError;
          it.payload = rd_kafka_message_errstr(m);
        } else {
          it.payload = std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
          rd_kafka_timestamp_type_t tstype;
          it.timestamp_ms = rd_kafka_message_timestamp(m, &tstype);
          it.timestamp_type = kafka_timestamp_type(tstype);
          if (options_.with_key && m->key) {
            it.has_key = true;
            it.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
          }
          if (options_.with_headers) {
            const size_t start = arena.size();
            pack_headers(m, arena);
            if (arena.size() > start) header_spans.emplace_back(items.size(), start);
          }
        }
        items.push_back(it);
      }
      // Pointed at only now: the arena may have moved while it grew.
      for (size_t k = 0; k < header_spans.size(); ++k) {
        const auto [item, start] = header_spans[k];
        const size_t end = k + 1 < header_spans.size() ? header_spans[k + 1].second : arena.size();
        items[item].headers = std::string_view(arena.data() + start, end - start);
      }
      buffer_->append(partition, items);
      const bool was_at_end = at_end(partition, now);
      if (items.back().kind == PrefetchBuffer::Kind::kRecord) {
        fetched_to[partition] = items.back().offset + 1;
        caught_up.erase(partition);
        // At the high watermark of the last fetch response: the end, though no end-of-partition
        // event comes while a producer writes (each fetch, held for fetch.wait.max.ms until
        // fetch.min.bytes, brings records).
        int64_t low = 0, high = -1;
        if (rd_kafka_get_watermark_offsets(rk_, options_.topic.c_str(), partition, &low, &high) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            high >= 0 && items.back().offset + 1 >= high) {
          last_end[partition] = now;
        }
      } else {
        if (items.back().kind == PrefetchBuffer::Kind::kEnd) fetched_to[partition] = items.back().offset;
        caught_up.insert(partition);
        last_end[partition] = now;
      }
      if (was_at_end != at_end(partition, now)) {
        if (was_at_end) {
          ++fetching;
        } else if (fetching > 0) {
          --fetching;
        }
      }
      for (ssize_t i = 0; i < n; ++i) rd_kafka_message_destroy(msgs[i]);
      // Paused once librdkafka's queue is empty, at once rather than on the next round: a pause
      // purges what is still queued, and a purged producer batch is fetched and decompressed
      // again for the rest of its messages (up to 7 times each at 96 partitions, and the
      // purges, done by librdkafka's main thread, lagged behind: 300 MB). So the share may be
      // overshot by what librdkafka fetched, but by two consume calls at most: a partition whose
      // queue still holds messages after the second is paused anyway (it refills as it drains).
      if (enough(partition) && !read_needs(partition)) {
        if (rd_kafka_queue_length(queue) == 0 || overshot.count(partition)) {
          set_paused(partition, true, false);
          overshot.erase(partition);
          if (paused.count(partition) && !at_end(partition, now) && fetching > 0) --fetching;
        } else {
          overshot.insert(partition);
        }
      }
    }
    first = order.empty() ? 0 : (first + 1) % order.size();
    if (!to_wake.empty()) {
      waker_->wake(to_wake);
      to_wake.clear();
    }
    rd_kafka_poll(rk_, 0);  // serve the error callback
    if (!got_any) {
      // Woken by librdkafka (records), a read's demand, idle() or stop_prefetch(); the timeout is
      // for the fetch slots' idle times, which do not matter while resting.
      pollfd pfd{wake_[0], POLLIN, 0};
      (void)::poll(&pfd, 1, resting ? 1000 : 100);
    }
  }
  // Leave nothing paused: assign() and the destructor expect librdkafka's own state. No wake-up
  // requests: the partitions are about to be unassigned, and the broker may be gone.
  for (int32_t partition : std::set<int32_t>(paused)) set_paused(partition, false, false);
}

}  // namespace kpipe
