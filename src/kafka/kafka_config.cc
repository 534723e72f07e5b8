#include "kafka/kafka_config.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <future>
#include <thread>

#include "common/log.h"

namespace kpipe {
namespace {

// "ipv4#127.0.0.1:1" → "127.0.0.1:1"
std::string_view strip_family(std::string_view addr) {
  auto hash = addr.find('#');
  if (hash != std::string_view::npos && hash < 5) addr.remove_prefix(hash + 1);
  return addr;
}

// Drops librdkafka's " (after 12ms in state CONNECT, 3 identical error(s) suppressed)" tail, which
// changes on every retry and would defeat the repeat filter.
std::string_view strip_after(std::string_view why) {
  auto p = why.find(" (after ");
  if (p != std::string_view::npos) why = why.substr(0, p);
  return why;
}

}  // namespace

Status set_kafka_property(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return Status::fatal("kafka property " + key + "='" + value + "': " + err);
  }
  return Status::success();
}

Status apply_kafka_properties(rd_kafka_conf_t* conf, const std::vector<std::pair<std::string, std::string>>& props) {
  for (const auto& [k, v] : props) KPIPE_RETURN_IF_ERROR(set_kafka_property(conf, k, v));
  return Status::success();
}

Status apply_user_kafka_props(rd_kafka_conf_t* conf, const std::vector<std::pair<std::string, std::string>>& props) {
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      return Status::fatal("--kafka-prop " + k + "=" + v + ": " + err);
    }
  }
  return Status::success();
}

std::string describe_kafka_error(int err, std::string_view reason) {
  constexpr std::string_view kConnect = "Connect to ";
  constexpr std::string_view kFailed = " failed: ";
  constexpr std::string_view kResolve = "Failed to resolve '";
  if (auto c = reason.find(kConnect); c != std::string_view::npos) {
    auto f = reason.find(kFailed, c);
    if (f != std::string_view::npos) {
      auto addr = strip_family(reason.substr(c + kConnect.size(), f - c - kConnect.size()));
      auto why = strip_after(reason.substr(f + kFailed.size()));
      return "cannot reach " + std::string(addr) + " (" + std::string(why) + "); retrying";
    }
  }
  if (auto r = reason.find(kResolve); r != std::string_view::npos) {
    auto rest = reason.substr(r + kResolve.size());
    auto q = rest.find("': ");
    if (q != std::string_view::npos) {
      return "cannot resolve " + std::string(rest.substr(0, q)) + " (" + std::string(strip_after(rest.substr(q + 3))) +
             "); retrying";
    }
  }
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    return "no broker reachable (" + std::string(reason) + "); retrying";
  }
  if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    return "authentication failed: " + std::string(strip_after(reason));
  }
  return std::string(strip_after(reason)) + " (" + rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ")";
}

std::string librdkafka_version() { return rd_kafka_version_str(); }

namespace {
std::atomic<int> g_abandoned_clients{0};
}

void destroy_kafka_client(rd_kafka_t* rk, bool close_consumer, std::chrono::milliseconds deadline,
                          std::string_view what, std::shared_ptr<void> keep_alive) {
  if (rk == nullptr) return;
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> finished = done->get_future();
  std::thread([rk, close_consumer, done, keep_alive = std::move(keep_alive)] {
    if (close_consumer) rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    done->set_value();
  }).detach();
  if (finished.wait_for(deadline) == std::future_status::ready) return;
  g_abandoned_clients.fetch_add(1);
  log_warn("kafka", std::string(what) + ": librdkafka did not shut down within " + std::to_string(deadline.count()) +
                        " ms (librdkafka " + rd_kafka_version_str() +
                        " can hang there after a topic was deleted under its assignment); left to the process exit");
}

int abandoned_kafka_clients() { return g_abandoned_clients.load(); }

KafkaErrorLog::KafkaErrorLog(std::string component, std::chrono::milliseconds repeat_every)
    : component_(std::move(component)), repeat_every_(repeat_every) {}

void KafkaErrorLog::on_error(int err, const char* reason) {
  // "1/1 brokers are down" follows every failed connect, which was reported with its address.
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    last_error_code_ = err;
  }
  report(describe_kafka_error(err, reason), true);
}

void KafkaErrorLog::on_log(int level, const char* facility, const char* message) {
  // Levels are syslog's: 3 error, 4 warning. FAIL and ERROR lines repeat what on_error reports.
  if (level > 4) return;
  std::string_view fac(facility);
  if (fac == "FAIL" || fac == "ERROR") return;
  report(std::string(strip_after(message)), false);
}

std::string KafkaErrorLog::last_error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_;
}

bool KafkaErrorLog::last_error_is_authentication() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_error_code_ == RD_KAFKA_RESP_ERR__AUTHENTICATION;
}

void KafkaErrorLog::report(std::string text, bool is_error) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (is_error) last_error_ = text;
    if (last_printed_.size() > 1000) last_printed_.clear();  // bounded, even if texts never repeat
    auto [it, inserted] = last_printed_.try_emplace(text, now);
    if (!inserted) {
      if (now - it->second < repeat_every_) return;
      it->second = now;
    }
  }
  log_warn(component_, text);
}

}  // namespace kpipe
