// kpipe-ceiling: the fastest read of a topic this machine does with librdkafka, the ceiling that
// bench/run measures `kpipe stream` against.
//
//   kpipe-ceiling --bootstrap-servers HOST:PORT --topic NAME [--settings kpipe|default]
//                 [--loop batch|poll] [--timeout SECONDS]
//
// It reads every partition from its low to its high watermark as they were at start (manual
// assignment, no group membership, no offset commits), counts messages and payload bytes and
// decodes nothing, then prints one JSON line:
//
//   {"messages":N,"bytes":B,"seconds":S,"read_seconds":R,"stalled_seconds":W,"stalls":K,...}
//
// seconds runs from the start of the program to the last message (metadata and watermark queries
// included, as in kpipe's and kcat's wall time); read_seconds from the assignment; stalled_seconds
// adds up the waits of 100 ms or more in which nothing was delivered (stalls counts them), which
// is where librdkafka 2.0.2's pauses show. Exit 0 when every message was counted, 1 on an error
// (unknown topic, unreachable broker, the timeout), 2 on bad arguments.
//
// --settings kpipe applies exactly the consumer properties of `kpipe stream`
// (stream_consumer_settings, shared out by the partition count as KafkaSource does); --settings
// default leaves librdkafka's defaults, setting only bootstrap.servers, the group.id the consumer
// API requires and enable.auto.commit=false.
//
// --loop batch (the default) drains the consumer queue with rd_kafka_consume_batch_queue without
// waiting and blocks in rd_kafka_consumer_poll only when the queue is empty; --loop poll takes one
// message per rd_kafka_consumer_poll. batch is the ceiling: 1,000,000 seed events on 3 partitions
// (2 cores, librdkafka 2.0.2) took 0.36-0.39 s with librdkafka's defaults and 3.2-9.0 s with
// kpipe's settings, against 2.3-4.0 s and 38-44 s for poll, nearly all of it in stalls of about a
// second: one message a call drains a partition's queue slower than librdkafka fills it, the queue
// reaches queued.min.messages (8,000 with kpipe's settings), librdkafka stops fetching that
// partition and looks at it again only when its broker thread next wakes. kpipe's source wakes it
// (KafkaSource::wake_fetchers); this reader, librdkafka and nothing else, does not, and reports
// the stalls instead (stalled_seconds), so a run where kpipe beats it can be explained.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "kafka/consumer_settings.h"
#include "kafka/kafka_config.h"

namespace kpipe {
namespace {

using Clock = std::chrono::steady_clock;
using Settings = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kBatch = 4096;
// A wait this long with nothing delivered counts as a stall.
constexpr std::chrono::milliseconds kStall{100};
constexpr std::chrono::milliseconds kCloseDeadline{10000};

struct Options {
  std::string bootstrap_servers;
  std::string topic;
  std::string settings = "kpipe";  // kpipe | default
  std::string loop = "batch";      // batch | poll
  std::chrono::milliseconds timeout{600000};
};

struct Watermark {
  int32_t partition = 0;
  int64_t low = 0;
  int64_t high = 0;
};

struct Count {
  uint64_t messages = 0;
  uint64_t bytes = 0;
  double seconds = 0;
  double read_seconds = 0;
  double stalled_seconds = 0;
  uint64_t stalls = 0;
};

const char kUsage[] =
    "usage: kpipe-ceiling --bootstrap-servers HOST:PORT --topic NAME [--settings kpipe|default]\n"
    "                     [--loop batch|poll] [--timeout SECONDS]\n"
    "Reads the topic from its low to its high watermarks at start, counts messages and bytes, prints one JSON "
    "line.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "kpipe-ceiling: %s\n%s", message.c_str(), kUsage);
  std::exit(2);
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) usage_error(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--bootstrap-servers" || arg == "-b") {
      o.bootstrap_servers = value;
    } else if (arg == "--topic" || arg == "-t") {
      o.topic = value;
    } else if (arg == "--settings") {
      if (value != "kpipe" && value != "default") usage_error("--settings " + value + ": expected kpipe or default");
      o.settings = value;
    } else if (arg == "--loop") {
      if (value != "batch" && value != "poll") usage_error("--loop " + value + ": expected batch or poll");
      o.loop = value;
    } else if (arg == "--timeout") {
      char* end = nullptr;
      const double s = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(s > 0))
        usage_error("--timeout " + value + ": expected seconds > 0");
      o.timeout = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
    } else {
      usage_error("unknown argument " + arg);
    }
  }
  if (o.bootstrap_servers.empty()) usage_error("--bootstrap-servers is required");
  if (o.topic.empty()) usage_error("--topic is required");
  return o;
}

// The consumer properties of `mode` for a topic of `partitions` partitions.
Settings settings_for(const Options& o, size_t partitions) {
  if (o.settings == "kpipe") {
    // As `kpipe stream --once` reads: the drain's fetch wait.
    return stream_consumer_settings(o.bootstrap_servers, "kpipe-ceiling",
                                    fetch_wait_for(std::chrono::milliseconds(0), true), o.topic, partitions);
  }
  // rd_kafka_assign needs a group id, though nothing joins the group.
  return {{"bootstrap.servers", o.bootstrap_servers}, {"group.id", "kpipe-ceiling"}, {"enable.auto.commit", "false"}};
}

void on_client_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  static_cast<KafkaErrorLog*>(opaque)->on_error(err, reason);
}

void on_client_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  static_cast<KafkaErrorLog*>(rd_kafka_opaque(rk))->on_log(level, facility, message);
}

Result<rd_kafka_t*> new_consumer(const Settings& settings, KafkaErrorLog* errors) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (Status st = apply_kafka_properties(conf, settings); !st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  rd_kafka_conf_set_error_cb(conf, on_client_error);
  rd_kafka_conf_set_log_cb(conf, on_client_log);
  rd_kafka_conf_set_opaque(conf, errors);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return Status::fatal(std::string("cannot create a Kafka consumer: ") + err);
  }
  return rk;
}

class Ceiling {
 public:
  Ceiling(Options options, Clock::time_point started)
      : o_(std::move(options)), started_(started), deadline_(started + o_.timeout) {}
  ~Ceiling() {
    // Closing waits for nothing the count needs: within a deadline, else left to the exit.
    destroy_kafka_client(rk_, true, kCloseDeadline, "closing the consumer");
    destroy_kafka_client(meta_, false, kCloseDeadline, "closing the metadata client");
  }
  Ceiling(const Ceiling&) = delete;
  Ceiling& operator=(const Ceiling&) = delete;

  Result<Count> run();

 private:
  // Milliseconds left before --timeout, at least 1 (librdkafka reads 0 as "do not wait").
  int remaining_ms() const;
  std::string with_detail(std::string message) const;
  Result<std::vector<int32_t>> partitions();
  Result<std::vector<Watermark>> watermarks(const std::vector<int32_t>& partitions);
  Status assign(const std::vector<Watermark>& marks);
  // Counts `m` if it lies below its partition's end; false with `failure` set on an error.
  bool take(const rd_kafka_message_t* m, Status& failure);
  Status read_batches();
  Status read_polls();
  void waited(Clock::duration wait, bool got);

  Options o_;
  Clock::time_point started_;
  Clock::time_point deadline_;
  KafkaErrorLog errors_{"kpipe-ceiling"};
  rd_kafka_t* meta_ = nullptr;
  rd_kafka_t* rk_ = nullptr;
  std::vector<int64_t> end_;   // by partition id: the high watermark at start
  std::vector<int64_t> next_;  // by partition id: the next offset wanted
  size_t open_ = 0;            // partitions not read to their end yet
  Count count_;
  Clock::time_point last_message_;
};

int Ceiling::remaining_ms() const {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 1, 1 << 30));
}

std::string Ceiling::with_detail(std::string message) const {
  const std::string detail = errors_.last_error();
  return detail.empty() ? message : message + " (" + detail + ")";
}

Result<std::vector<int32_t>> Ceiling::partitions() {
  rd_kafka_topic_t* topic = rd_kafka_topic_new(meta_, o_.topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(meta_, 0, topic, &md, remaining_ms());
  rd_kafka_topic_destroy(topic);
  rd_kafka_poll(meta_, 0);  // serves the error callback, for the detail
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::fatal(with_detail("cannot read metadata of topic '" + o_.topic + "' from " + o_.bootstrap_servers +
                                     ": " + rd_kafka_err2str(err)));
  }
  std::vector<int32_t> ids;
  Status status;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (t.err == RD_KAFKA_RESP_ERR_NO_ERROR && !t.partition_cnt)) {
      status = Status::fatal("topic '" + o_.topic + "' does not exist on " + o_.bootstrap_servers);
    } else if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      status = Status::fatal("topic '" + o_.topic + "' is not available on " + o_.bootstrap_servers + ": " +
                             rd_kafka_err2str(t.err));
    }
    for (int j = 0; j < t.partition_cnt; ++j) ids.push_back(t.partitions[j].id);
  }
  rd_kafka_metadata_destroy(md);
  if (!status.ok()) return status;
  if (ids.empty()) return Status::fatal("topic '" + o_.topic + "' does not exist on " + o_.bootstrap_servers);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<std::vector<Watermark>> Ceiling::watermarks(const std::vector<int32_t>& partitions) {
  std::vector<Watermark> marks;
  for (int32_t p : partitions) {
    Watermark w{p, 0, 0};
    const rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(meta_, o_.topic.c_str(), p, &w.low, &w.high, remaining_ms());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::fatal(with_detail("cannot read the watermarks of " + o_.topic + "/" + std::to_string(p) + ": " +
                                       rd_kafka_err2str(err)));
    }
    marks.push_back(w);
  }
  return marks;
}

Status Ceiling::assign(const std::vector<Watermark>& marks) {
  const int32_t most = marks.back().partition;
  end_.assign(static_cast<size_t>(most) + 1, 0);
  next_.assign(static_cast<size_t>(most) + 1, 0);
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(marks.size())), rd_kafka_topic_partition_list_destroy);
  for (const Watermark& w : marks) {
    end_[w.partition] = w.high;
    next_[w.partition] = w.low;
    if (w.high <= w.low) continue;  // empty: nothing to read
    rd_kafka_topic_partition_list_add(list.get(), o_.topic.c_str(), w.partition)->offset = w.low;
    ++open_;
  }
  if (open_ == 0) return Status::success();
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::fatal("cannot assign the partitions of " + o_.topic + ": " + rd_kafka_err2str(err));
  }
  return Status::success();
}

bool Ceiling::take(const rd_kafka_message_t* m, Status& failure) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    const int32_t p = m->partition;
    if (p < 0 || static_cast<size_t>(p) >= end_.size() || next_[p] >= end_[p]) return true;  // done already
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // Offsets below the end that never come are transaction markers or compacted away.
      if (m->offset < end_[p]) return true;
    } else {
      if (m->offset >= end_[p]) return true;  // written after the start: not this read's
      ++count_.messages;
      count_.bytes += m->len;
    }
    next_[p] = m->err ? end_[p] : m->offset + 1;
    if (next_[p] >= end_[p]) --open_;
    return true;
  }
  // An error of a partition (offset out of range, topic deleted) ends the read; one of the client
  // (a broker connection lost) is retried by librdkafka, and --timeout bounds the wait.
  if (m->rkt == nullptr) return true;
  failure = Status::fatal(with_detail("reading " + o_.topic + "/" + std::to_string(m->partition) + " at offset " +
                                      std::to_string(m->offset) + ": " + rd_kafka_message_errstr(m)));
  return false;
}

void Ceiling::waited(Clock::duration wait, bool got) {
  // The wait for the first message is start-up (connections, the first fetch), not a stall.
  if (wait >= kStall && count_.messages > 0) {
    count_.stalled_seconds += std::chrono::duration<double>(wait).count();
    ++count_.stalls;
  }
  if (got) last_message_ = Clock::now();
}

Status Ceiling::read_batches() {
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk_);
  if (!queue) return Status::fatal("no consumer queue (is group.id set?)");
  std::vector<rd_kafka_message_t*> msgs(kBatch);
  Status failure;
  while (open_ > 0 && failure.ok()) {
    if (Clock::now() >= deadline_) break;
    // Without waiting: rd_kafka_consume_batch_queue otherwise waits for a whole batch.
    const ssize_t n = rd_kafka_consume_batch_queue(queue, 0, msgs.data(), msgs.size());
    for (ssize_t i = 0; i < n; ++i) {
      if (failure.ok()) take(msgs[i], failure);
      rd_kafka_message_destroy(msgs[i]);
    }
    if (n > 0) {
      last_message_ = Clock::now();
      continue;
    }
    // Empty: wait for the next message, which is counted too.
    const auto t = Clock::now();
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, std::min(remaining_ms(), 1000));
    waited(Clock::now() - t, m != nullptr);
    if (!m) continue;
    take(m, failure);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_queue_destroy(queue);
  return failure;
}

Status Ceiling::read_polls() {
  Status failure;
  while (open_ > 0 && failure.ok()) {
    if (Clock::now() >= deadline_) break;
    const auto t = Clock::now();
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, std::min(remaining_ms(), 1000));
    if (!m) {
      waited(Clock::now() - t, false);
      continue;
    }
    waited(Clock::now() - t, true);
    take(m, failure);
    rd_kafka_message_destroy(m);
  }
  return failure;
}

Result<Count> Ceiling::run() {
  KPIPE_ASSIGN_OR_RETURN(meta_,
                         new_consumer(settings_for(Options{o_.bootstrap_servers, o_.topic, "default"}, 0), &errors_));
  KPIPE_ASSIGN_OR_RETURN(auto ids, partitions());
  KPIPE_ASSIGN_OR_RETURN(auto marks, watermarks(ids));
  KPIPE_ASSIGN_OR_RETURN(rk_, new_consumer(settings_for(o_, ids.size()), &errors_));
  // Every partition's messages and the client's events on one queue (rd_kafka_consumer_poll's).
  rd_kafka_poll_set_consumer(rk_);
  const auto assigned = Clock::now();
  last_message_ = assigned;
  KPIPE_RETURN_IF_ERROR(assign(marks));
  KPIPE_RETURN_IF_ERROR(o_.loop == "poll" ? read_polls() : read_batches());
  if (open_ > 0) {
    uint64_t missing = 0;
    for (size_t p = 0; p < end_.size(); ++p) missing += static_cast<uint64_t>(std::max<int64_t>(end_[p] - next_[p], 0));
    return Status::fatal(with_detail("--timeout " + std::to_string(o_.timeout.count() / 1000.0) + " s passed with " +
                                     std::to_string(open_) + " partitions of " + o_.topic + " not read to the end (" +
                                     std::to_string(count_.messages) + " messages counted, up to " +
                                     std::to_string(missing) + " to go)"));
  }
  count_.seconds = std::chrono::duration<double>(last_message_ - started_).count();
  count_.read_seconds = std::chrono::duration<double>(last_message_ - assigned).count();
  return count_;
}

int main_impl(int argc, char** argv) {
  const auto started = Clock::now();
  const Options o = parse_args(argc, argv);
  Result<Count> count = [&]() -> Result<Count> {
    Ceiling ceiling(o, started);
    return ceiling.run();
  }();
  if (!count.ok()) {
    std::fprintf(stderr, "kpipe-ceiling: %s\n", count.status().message().c_str());
    std::fflush(stderr);
    if (abandoned_kafka_clients() > 0) std::_Exit(1);
    return 1;
  }
  const Count& c = count.value();
  std::printf(
      "{\"messages\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"read_seconds\":%.6f,\"stalled_seconds\":%.6f,"
      "\"stalls\":%llu,\"settings\":\"%s\",\"loop\":\"%s\",\"librdkafka\":\"%s\"}\n",
      static_cast<unsigned long long>(c.messages), static_cast<unsigned long long>(c.bytes), c.seconds, c.read_seconds,
      c.stalled_seconds, static_cast<unsigned long long>(c.stalls), o.settings.c_str(), o.loop.c_str(),
      rd_kafka_version_str());
  std::fflush(stdout);
  if (abandoned_kafka_clients() > 0) std::_Exit(0);
  return 0;
}

}  // namespace
}  // namespace kpipe

int main(int argc, char** argv) { return kpipe::main_impl(argc, argv); }
