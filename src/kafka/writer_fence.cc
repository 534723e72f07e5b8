#include "kafka/writer_fence.h"

#include <librdkafka/rdkafka.h>

#include <mutex>

#include "kafka/kafka_config.h"

namespace kpipe {
namespace {

// The codes a fenced producer sees: librdkafka's own __FENCED for a fatal "fenced by a newer
// instance", PRODUCER_FENCED from brokers since Kafka 2.7, INVALID_PRODUCER_EPOCH from older
// ones (and from librdkafka's mock cluster).
bool is_fenced_code(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__FENCED || err == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
         err == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
}

// Denied by the cluster's ACLs: retrying with the same principal cannot succeed.
bool is_authorization_code(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

// "send_offsets_to_transaction: Broker: Producer fenced (PRODUCER_FENCED)"
std::string describe(const char* step, const rd_kafka_error_t* error) {
  return std::string(step) + ": " + rd_kafka_error_string(error) + " (" + rd_kafka_error_name(error) + ")";
}

void on_client_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  static_cast<KafkaErrorLog*>(opaque)->on_error(err, reason);
}

void on_client_log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  static_cast<KafkaErrorLog*>(rd_kafka_opaque(rk))->on_log(level, facility, message);
}

class NoFence final : public WriterFence {
 public:
  Status check(const std::string&, const std::vector<std::pair<int32_t, int64_t>>&) override {
    return Status::success();
  }
};

class KafkaWriterFence final : public WriterFence {
 public:
  explicit KafkaWriterFence(WriterFenceOptions options) : options_(std::move(options)), errors_("kafka fence") {}
  // Nothing is ever produced, so there is nothing to flush; an open or half-finished transaction
  // is aborted by the coordinator after transaction.timeout.ms, or at once by the next holder's
  // init_transactions.
  ~KafkaWriterFence() override {
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }
  KafkaWriterFence(const KafkaWriterFence&) = delete;
  KafkaWriterFence& operator=(const KafkaWriterFence&) = delete;

  Status init();
  Status check(const std::string& topic, const std::vector<std::pair<int32_t, int64_t>>& offsets) override;

 private:
  // A transactional call that timed out keeps running in the background, and librdkafka refuses
  // any other transactional call ("Conflicting ... API call is already in progress") until the
  // same one is called again to resume it. commit_transaction and abort_transaction can be
  // resumed; send_offsets_to_transaction cannot (its transaction is aborted instead).
  enum class Pending { kNone, kCommit, kAbort };

  Status finish_pending();
  Status abort_transaction();
  // Turns a failed transactional call into a Status (and destroys `error`): see check() in the header.
  Status failure(rd_kafka_error_t* error, const char* step, Pending resume);
  Status fatal_failure(rd_kafka_error_t* error, const char* step);
  Status unavailable(const std::string& what) const;
  std::string last_error_suffix() const;

  const WriterFenceOptions options_;
  KafkaErrorLog errors_;  // the client's callbacks use it: declared before, destroyed after rk_
  rd_kafka_t* rk_ = nullptr;
  std::mutex mu_;
  bool in_transaction_ = false;
  Pending pending_ = Pending::kNone;
  Status dead_;  // the fatal error once there was one: the producer cannot be used again
};

std::string KafkaWriterFence::last_error_suffix() const {
  std::string detail = errors_.last_error();
  return detail.empty() ? "" : " (last client error: " + detail + ")";
}

Status KafkaWriterFence::unavailable(const std::string& what) const {
  return Status::retriable("writer fence (transactional.id '" + options_.transactional_id + "'): no answer from the " +
                               "transaction coordinator at " + options_.bootstrap_servers + " within " +
                               std::to_string(options_.timeout_ms) + " ms: " + what + last_error_suffix(),
                           StatusCode::kUnavailable);
}

Status KafkaWriterFence::init() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::vector<std::pair<std::string, std::string>> props = {
      {"bootstrap.servers", options_.bootstrap_servers},
      {"client.id", "kpipe-fence"},
      {"transactional.id", options_.transactional_id},
      // How long the coordinator keeps a transaction of ours open if we vanish mid-check; the
      // next holder's init_transactions waits for that at worst. Each check is milliseconds long.
      {"transaction.timeout.ms", "60000"},
      // The producer is idle between checks; a broker closing its idle connection is normal.
      {"log.connection.close", "false"},
  };
  Status st = apply_kafka_properties(conf, props);
  // The user's --kafka-prop (security settings) come last so they can override any of ours.
  if (st.ok()) st = apply_user_kafka_props(conf, options_.kafka_props);
  if (!st.ok()) {
    rd_kafka_conf_destroy(conf);
    return Status::fatal("writer fence: " + st.message(), StatusCode::kInvalidArgument);
  }
  rd_kafka_conf_set_error_cb(conf, on_client_error);
  rd_kafka_conf_set_log_cb(conf, on_client_log);
  rd_kafka_conf_set_opaque(conf, &errors_);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new only takes ownership on success
    // Only a contradiction among the settings fails here (e.g. message.timeout.ms above
    // transaction.timeout.ms, or enable.idempotence=false with a transactional.id).
    return Status::fatal(std::string("cannot create the writer fence's Kafka producer: ") + err,
                         StatusCode::kInvalidArgument);
  }
  rd_kafka_error_t* error = rd_kafka_init_transactions(rk_, options_.timeout_ms);
  // Serves the error callback, so a failure says why ("cannot reach ...") rather than only "timed out".
  rd_kafka_poll(rk_, 0);
  if (error == nullptr) return Status::success();
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  const std::string what = describe("init_transactions", error);
  const bool retriable = rd_kafka_error_is_retriable(error) && !rd_kafka_error_is_fatal(error);
  rd_kafka_error_destroy(error);
  const std::string prefix = "cannot acquire the writer fence (transactional.id '" + options_.transactional_id +
                             "') at " + options_.bootstrap_servers + ": ";
  if (errors_.last_error_is_authentication()) {
    return Status::fatal(prefix + what + last_error_suffix() +
                             ": check the security settings (--kafka-prop sasl.*, ssl.*, security.protocol)",
                         StatusCode::kInvalidArgument);
  }
  if (is_authorization_code(code)) {
    return Status::fatal(prefix + what + ": grant this principal Write and Describe on TransactionalId '" +
                             options_.transactional_id + "'",
                         StatusCode::kInvalidArgument);
  }
  if (retriable || code == RD_KAFKA_RESP_ERR__TIMED_OUT) return unavailable(what);
  return Status::fatal(prefix + what + last_error_suffix());
}

Status KafkaWriterFence::fatal_failure(rd_kafka_error_t* error, const char* step) {
  char reason[512] = "";
  const rd_kafka_resp_err_t original = rd_kafka_fatal_error(rk_, reason, sizeof reason);
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  const std::string what = describe(step, error);
  rd_kafka_error_destroy(error);
  if (is_fenced_code(code) || is_fenced_code(original)) {
    dead_ = Status::fatal("another instance took over transactional.id '" + options_.transactional_id +
                              "' (a newer kpipe writing the same checkpoint); this one (" + options_.holder +
                              ") must stop: " + what,
                          StatusCode::kLocked);
  } else {
    dead_ = Status::fatal(
        "the writer fence (transactional.id '" + options_.transactional_id + "', " + options_.holder +
            ") failed for good and cannot check again: " + what +
            (reason[0] != '\0' && what.find(reason) == std::string::npos ? std::string(" (") + reason + ")" : "") +
            "; restart kpipe",
        is_authorization_code(code) || is_authorization_code(original) ? StatusCode::kInvalidArgument
                                                                       : StatusCode::kUnknown);
  }
  return dead_;
}

Status KafkaWriterFence::abort_transaction() {
  rd_kafka_error_t* error = rd_kafka_abort_transaction(rk_, options_.timeout_ms);
  if (error == nullptr) {
    in_transaction_ = false;
    pending_ = Pending::kNone;
    return Status::success();
  }
  if (rd_kafka_error_is_fatal(error) || is_fenced_code(rd_kafka_error_code(error))) {
    return fatal_failure(error, "abort_transaction");
  }
  if (rd_kafka_error_is_retriable(error)) {
    // Still aborting in the background: the next check resumes it before anything else.
    pending_ = Pending::kAbort;
    Status st = unavailable(describe("abort_transaction", error));
    rd_kafka_error_destroy(error);
    return st;
  }
  // Nothing to abort (the transaction had already ended): the state is clean again.
  rd_kafka_error_destroy(error);
  in_transaction_ = false;
  pending_ = Pending::kNone;
  return Status::success();
}

Status KafkaWriterFence::failure(rd_kafka_error_t* error, const char* step, Pending resume) {
  rd_kafka_poll(rk_, 0);  // the error callback's reason, for the message
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  // librdkafka 2.0.2 makes INVALID_PRODUCER_EPOCH fatal but a PRODUCER_FENCED answer to
  // AddOffsetsToTxn or TxnOffsetCommit only abortable (as __FENCED); whichever librdkafka is
  // linked (cmake/KpipeRdkafka.cmake), fenced is fenced for good.
  if (rd_kafka_error_is_fatal(error) || is_fenced_code(code)) return fatal_failure(error, step);
  const std::string what = describe(step, error);
  const bool requires_abort = rd_kafka_error_txn_requires_abort(error);
  const bool retriable = rd_kafka_error_is_retriable(error);
  rd_kafka_error_destroy(error);
  if (requires_abort || (retriable && resume == Pending::kNone && in_transaction_)) {
    // The transaction cannot (or, for a call librdkafka cannot resume, should not) go on: end it,
    // so the next check starts a fresh one.
    KPIPE_RETURN_IF_ERROR(abort_transaction());
    if (is_authorization_code(code)) {
      return Status::fatal("writer fence (transactional.id '" + options_.transactional_id + "'): " + what +
                               ": grant this principal Read on group '" + options_.group_id + "'",
                           StatusCode::kInvalidArgument);
    }
    return unavailable(what + (requires_abort ? "; transaction aborted" : ""));
  }
  if (retriable) {
    if (resume != Pending::kNone) pending_ = resume;
    return unavailable(what);
  }
  // Neither fatal nor retriable nor abortable: a call in the wrong state, which is a bug here.
  return Status::fatal("writer fence (transactional.id '" + options_.transactional_id + "'): " + what,
                       StatusCode::kInternal);
}

Status KafkaWriterFence::finish_pending() {
  switch (pending_) {
    case Pending::kNone: return Status::success();
    case Pending::kAbort: return abort_transaction();
    case Pending::kCommit: {
      rd_kafka_error_t* error = rd_kafka_commit_transaction(rk_, options_.timeout_ms);
      if (error != nullptr) return failure(error, "commit_transaction (resumed)", Pending::kCommit);
      in_transaction_ = false;
      pending_ = Pending::kNone;
      return Status::success();
    }
  }
  return Status::success();
}

Status KafkaWriterFence::check(const std::string& topic, const std::vector<std::pair<int32_t, int64_t>>& offsets) {
  // A transaction with no valid offset (none, or all negative) is ended by librdkafka without
  // asking the coordinator, and so would pass even when fenced.
  if (offsets.empty()) {
    return Status::fatal("writer fence check: no offsets to commit (it needs at least one partition of '" + topic +
                             "' to reach the transaction coordinator)",
                         StatusCode::kInvalidArgument);
  }
  for (const auto& [partition, offset] : offsets) {
    if (partition < 0 || offset < 0) {
      return Status::fatal("writer fence check: offset " + std::to_string(offset) + " of partition " +
                               std::to_string(partition) + " of '" + topic +
                               "' is not a position to commit (both must be >= 0)",
                           StatusCode::kInvalidArgument);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!dead_.ok()) return dead_;
  rd_kafka_poll(rk_, 0);  // serve queued error callbacks, so they do not pile up while idle
  KPIPE_RETURN_IF_ERROR(finish_pending());

  if (rd_kafka_error_t* error = rd_kafka_begin_transaction(rk_)) {
    return failure(error, "begin_transaction", Pending::kNone);
  }
  in_transaction_ = true;

  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [partition, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  }
  rd_kafka_consumer_group_metadata_t* group = rd_kafka_consumer_group_metadata_new(options_.group_id.c_str());
  rd_kafka_error_t* error = rd_kafka_send_offsets_to_transaction(rk_, list, group, options_.timeout_ms);
  rd_kafka_consumer_group_metadata_destroy(group);
  rd_kafka_topic_partition_list_destroy(list);
  if (error != nullptr) return failure(error, "send_offsets_to_transaction", Pending::kNone);

  error = rd_kafka_commit_transaction(rk_, options_.timeout_ms);
  if (error != nullptr) return failure(error, "commit_transaction", Pending::kCommit);
  in_transaction_ = false;
  return Status::success();
}

}  // namespace

Result<std::unique_ptr<WriterFence>> acquire_kafka_fence(const WriterFenceOptions& options) {
  if (options.bootstrap_servers.empty() || options.transactional_id.empty() || options.group_id.empty()) {
    return Status::fatal("writer fence: bootstrap servers, transactional.id and group id must all be set (got '" +
                             options.bootstrap_servers + "', '" + options.transactional_id + "', '" + options.group_id +
                             "')",
                         StatusCode::kInvalidArgument);
  }
  if (options.timeout_ms <= 0) {
    return Status::fatal("writer fence: timeout_ms must be positive, not " + std::to_string(options.timeout_ms),
                         StatusCode::kInvalidArgument);
  }
  auto fence = std::make_unique<KafkaWriterFence>(options);
  KPIPE_RETURN_IF_ERROR(fence->init());
  return std::unique_ptr<WriterFence>(std::move(fence));
}

std::unique_ptr<WriterFence> no_fence() { return std::make_unique<NoFence>(); }

}  // namespace kpipe
