#include "kafka/producer.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>

namespace kpipe {

Producer::Producer(ProducerConfig config) : config_(std::move(config)), errors_("kafka") {}

Result<std::unique_ptr<Producer>> Producer::create(const ProducerConfig& config) {
  std::unique_ptr<Producer> p(new Producer(config));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", config.bootstrap_servers},
      {"client.id", config.client_id},
      // Retries then never duplicate or reorder a message (implies acks=all).
      {"enable.idempotence", "true"},
      {"message.timeout.ms", std::to_string(config.message_timeout.count())},
      {"linger.ms", std::to_string(config.linger.count())},
      // Same key → same partition as a Java producer would choose.
      {"partitioner", "murmur2_random"},
      // Room for about two seconds of --rate 0 output, so a slow broker round trip does not
      // stall the sender; the memory bound (queue.buffering.max.kbytes, 1 GB) still applies.
      {"queue.buffering.max.messages", "1000000"},
      {"batch.num.messages", "100000"},
      {"compression.type", "lz4"},
      // A broker closing an idle connection is normal, not worth a warning.
      {"log.connection.close", "false"},
  };
  Status st = apply_kafka_properties(conf, props);
  // The user's --kafka-prop come last so they can override any of ours.
  if (st.ok()) st = apply_user_kafka_props(conf, config.kafka_props);
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return st;
  }
  rd_kafka_conf_set_opaque(conf, p.get());
  rd_kafka_conf_set_dr_msg_cb(conf, &Producer::on_delivery);
  rd_kafka_conf_set_error_cb(conf, &Producer::on_error);
  rd_kafka_conf_set_log_cb(conf, &Producer::on_log);
  char err[512];
  p->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (p->rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new only takes ownership on success
    return Status::fatal(std::string("cannot create the Kafka producer: ") + err);
  }
  p->topic_ = rd_kafka_topic_new(p->rk_, config.topic.c_str(), nullptr);
  if (p->topic_ == nullptr) {
    return Status::fatal("cannot use topic '" + config.topic + "': " + rd_kafka_err2str(rd_kafka_last_error()));
  }
  return p;
}

Producer::~Producer() {
  if (topic_ != nullptr) rd_kafka_topic_destroy(topic_);
  if (rk_ != nullptr) {
    purge();
    rd_kafka_destroy(rk_);
  }
}

Status Producer::send(std::string_view value, std::optional<std::string_view> key) {
  const int rc = rd_kafka_produce(topic_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, const_cast<char*>(value.data()),
                                  value.size(), key ? key->data() : nullptr, key ? key->size() : 0, nullptr);
  if (rc == 0) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    return Status::success();
  }
  const rd_kafka_resp_err_t err = rd_kafka_last_error();
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return Status::retriable("producer queue full");
  // Never enqueued, so it never gets a delivery report: count it here to keep the sums right.
  sent_.fetch_add(1, std::memory_order_relaxed);
  failed_.fetch_add(1, std::memory_order_relaxed);
  std::string why =
      err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
          ? "message of " + std::to_string(value.size()) + " bytes is larger than the producer's message.max.bytes"
          : std::string(rd_kafka_err2str(err));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_failure_.empty()) first_failure_ = why;
  }
  return Status::fatal(why);
}

void Producer::poll(std::chrono::milliseconds timeout) { rd_kafka_poll(rk_, static_cast<int>(timeout.count())); }

Status Producer::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // rd_kafka_flush serves delivery reports itself; loop in short steps so a concurrent poller
  // thread and this call both make progress and the deadline is kept.
  while (in_flight() > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    rd_kafka_flush(rk_, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (fatal_.load()) break;
  }
  if (in_flight() > 0) {
    return Status::retriable(std::to_string(in_flight()) + " messages still in flight after " +
                             std::to_string(timeout.count()) + " ms");
  }
  return Status::success();
}

void Producer::purge() {
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  // Purged messages get their (failed) delivery reports on the next poll.
  rd_kafka_poll(rk_, 0);
}

Status Producer::check_topic(std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, topic_, &md, static_cast<int>(timeout.count()));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::retriable("no metadata from " + config_.bootstrap_servers + ": " + rd_kafka_err2str(err));
  }
  Status st;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      st = Status::fatal("topic '" + config_.topic + "' does not exist at " + config_.bootstrap_servers +
                         " (create it, e.g. scripts/kafka topic " + config_.topic + ")");
    } else if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = Status::fatal("topic '" + config_.topic + "' at " + config_.bootstrap_servers + ": " +
                         rd_kafka_err2str(t.err));
    }
  }
  rd_kafka_metadata_destroy(md);
  return st;
}

std::string Producer::first_failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_failure_;
}

Status Producer::fatal_error() const {
  if (!fatal_.load()) return Status::success();
  std::lock_guard<std::mutex> lock(mu_);
  return Status::fatal(fatal_message_);
}

void Producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  self->failed_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(self->mu_);
  if (self->first_failure_.empty()) self->first_failure_ = rd_kafka_err2str(msg->err);
}

void Producer::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<Producer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof buf);
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      self->fatal_message_ =
          std::string("the Kafka producer hit a fatal error: ") + buf + " (" + rd_kafka_err2name(orig) + ")";
    }
    self->fatal_.store(true);
  }
  self->errors_.on_error(err, reason);
}

void Producer::on_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto* self = static_cast<Producer*>(rd_kafka_opaque(rk));
  if (self != nullptr) self->errors_.on_log(level, facility, message);
}

}  // namespace kpipe
