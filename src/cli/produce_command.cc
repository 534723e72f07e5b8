#include "cli/produce_command.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "cli/line_reader.h"
#include "cli/progress.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/rate_limiter.h"
#include "config/producer_options.h"
#include "config/settings.h"
#include "kafka/event_generator.h"
#include "kafka/producer.h"
#include "status/prometheus.h"
#include "status/status_server.h"

namespace kpipe {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

constexpr char kComponent[] = "produce";
constexpr auto kProgressEvery = seconds(5);
constexpr auto kFlushAfterSignal = seconds(5);
constexpr int64_t kSendBatch = 1024;  // messages between checks of the clock and the stop flags

constexpr char kUsage[] =
    "Usage: kpipe produce [flags]\n"
    "\n"
    "Sends the seed's random events {\"event_id\", \"ts\", \"value\", \"source\"} to a Kafka topic at a\n"
    "steady rate (key = event_id), or with --input the lines of a JSON-lines file as they are (empty\n"
    "lines skipped, no key). Exits 0 when every message sent was delivered, 1 when some were not,\n"
    "2 for a bad setting. Ctrl-C or SIGTERM stops sending and flushes what is in flight.";

// The first signal asks for a clean stop; a second one means "now".
std::atomic<int> g_signal{0};

extern "C" void on_stop_signal(int sig) {
  if (g_signal.exchange(sig) != 0) {
    constexpr char kMsg[] = "kpipe produce: second signal, exiting without flushing\n";
    ssize_t ignored = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    (void)ignored;
    ::_exit(128 + sig);
  }
}

// Installs the handlers for the lifetime of one run and restores the previous ones after.
class SignalScope {
 public:
  SignalScope() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a read blocked on stdin returns, so the stop is seen at once
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~SignalScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

std::string format_rate(double per_second) {
  char buf[64];
  const bool whole = per_second >= 100 || per_second == static_cast<double>(static_cast<int64_t>(per_second));
  std::snprintf(buf, sizeof buf, whole ? "%.0f" : "%.1f", per_second);
  return buf;
}

std::string format_seconds(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

std::string describe_limits(const ProducerOptions& o) {
  std::string s = o.rate > 0 ? format_rate(o.rate) + " msgs/s" : "as fast as possible";
  if (o.count > 0) s += ", " + std::to_string(o.count) + " messages";
  if (o.duration_seconds > 0) s += ", for " + format_rate(o.duration_seconds) + " s";
  return s;
}

// "cannot reach h:1 (Connection refused); retrying" → "cannot reach h:1 (Connection refused)"
std::string without_retrying(std::string text) {
  constexpr std::string_view kSuffix = "; retrying";
  if (text.size() >= kSuffix.size() && text.compare(text.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
    text.resize(text.size() - kSuffix.size());
  }
  return text;
}

class ProduceRun {
 public:
  ProduceRun(const ProducerOptions& options, Producer& producer) : options_(options), producer_(producer) {}

  int run(LineReader* input) {
    start_ = Steady::now();
    last_progress_ = start_;
    // --count N: a progress bar on a terminal (plain lines otherwise) instead of the periodic log line.
    std::unique_ptr<ProgressReporter> progress;
    if (options_.count > 0) {
      ProgressOptions po;
      po.unit = "messages";
      po.terminal = stderr_is_terminal();
      progress = std::make_unique<ProgressReporter>(po, [this] { return producer_.delivered(); });
      progress->set_total(options_.count);
      progress->start();
    }
    std::thread poller([this] { poll_loop(); });
    Status st = input != nullptr ? send_lines(*input) : send_events();
    finish_sending();
    poller_stop_ = true;
    poller.join();
    if (progress) progress->finish();
    return summarize(st, input);
  }

 private:
  // What ended the send loop, other than reaching --count, --duration or the end of the input.
  enum class Stop { kNone, kSignal, kWatchdog, kFatal };

  Stop stop_reason() const {
    if (g_signal.load() != 0) return Stop::kSignal;
    if (stuck_.load()) return Stop::kWatchdog;
    if (!producer_.fatal_error().ok()) return Stop::kFatal;
    return Stop::kNone;
  }

  std::string input_name() const { return options_.input_path == "-" ? "stdin" : options_.input_path; }

  bool out_of_time(Steady::time_point now) const {
    return options_.duration_seconds > 0 && now - start_ >= std::chrono::duration<double>(options_.duration_seconds);
  }

  // How many more messages may be sent in this step: the rate, --count and --duration agree.
  // 0 with *done set means the run is over.
  int64_t next_step(RateLimiter& limiter, int64_t attempted, bool* done) {
    *done = false;
    for (;;) {
      if (stop_reason() != Stop::kNone) break;
      const auto now = Steady::now();
      if (out_of_time(now)) break;
      int64_t want = kSendBatch;
      if (options_.count > 0) want = std::min(want, options_.count - attempted);
      if (want <= 0) break;
      if (int64_t n = limiter.take_due(want); n > 0) return n;
      auto wake = std::min(limiter.next_due(), now + milliseconds(50));
      if (options_.duration_seconds > 0) {
        wake = std::min(wake, start_ + std::chrono::duration_cast<Steady::duration>(
                                           std::chrono::duration<double>(options_.duration_seconds)));
      }
      std::this_thread::sleep_until(wake);
    }
    *done = true;
    return 0;
  }

  Status send_events() {
    EventGenerator gen(options_.source, random_run_prefix(), std::random_device{}());
    SteadyClock clock;
    RateLimiter limiter(options_.rate, clock);
    int64_t attempted = 0;
    bool done = false;
    while (!done) {
      for (int64_t n = next_step(limiter, attempted, &done); n > 0; --n) {
        auto event = gen.next(std::chrono::system_clock::now());
        ++attempted;
        if (!send_one(event.json, event.key)) return Status::success();
      }
    }
    return Status::success();
  }

  Status send_lines(LineReader& input) {
    SteadyClock clock;
    RateLimiter limiter(options_.rate, clock);
    int64_t attempted = 0;
    bool done = false;
    while (!done) {
      for (int64_t n = next_step(limiter, attempted, &done); n > 0; --n) {
        auto line = input.next();
        if (!line) {
          if (!input.error().empty()) {
            return Status::fatal(input_name() + ": " + input.error() + " after line " +
                                 std::to_string(input.line_number()));
          }
          return Status::success();
        }
        ++attempted;
        if (!send_one(*line, std::nullopt)) return Status::success();
      }
    }
    return Status::success();
  }

  // Sends one message, waiting while librdkafka's queue is full. False when the run must stop.
  bool send_one(std::string_view value, std::optional<std::string_view> key) {
    for (;;) {
      Status st = producer_.send(value, key);
      if (st.ok()) return true;
      if (!st.is_retriable()) {
        // Counted as failed by the producer; say so once, keep going with the next message.
        if (!reported_send_error_) log_error(kComponent, "a message cannot be sent: " + st.message());
        reported_send_error_ = true;
        return true;
      }
      if (stop_reason() != Stop::kNone) return false;
      producer_.poll(milliseconds(1));
    }
  }

  void finish_sending() {
    const Stop reason = stop_reason();
    if (reason == Stop::kWatchdog || reason == Stop::kFatal) {
      producer_.purge();  // the broker is gone or the producer is dead: waiting gains nothing
      return;
    }
    const auto deadline = reason == Stop::kSignal
                              ? milliseconds(kFlushAfterSignal)
                              : std::chrono::duration_cast<milliseconds>(
                                    std::chrono::duration<double>(options_.timeout_seconds) + seconds(5));
    if (reason == Stop::kSignal) {
      log_info(kComponent, "stopping: flushing " + std::to_string(producer_.in_flight()) +
                               " messages in flight (at most " + std::to_string(kFlushAfterSignal.count()) + " s)");
    }
    if (!producer_.flush(deadline).ok()) producer_.purge();
  }

  // Runs beside the sender: serves delivery reports, reports progress, and gives up when
  // messages wait and nothing has been delivered for --timeout seconds.
  void poll_loop() {
    const auto timeout = std::chrono::duration<double>(options_.timeout_seconds);
    auto next_report = start_ + kProgressEvery;
    int64_t delivered_at_report = 0;
    auto last_report = start_;
    int64_t delivered_seen = 0;
    while (!poller_stop_.load()) {
      producer_.poll(milliseconds(20));
      const auto now = Steady::now();
      const int64_t delivered = producer_.delivered();
      if (delivered != delivered_seen || producer_.in_flight() == 0) {
        delivered_seen = delivered;
        last_progress_ = now;
      } else if (!stuck_.load() && now - last_progress_ > timeout) {
        stuck_ = true;
      }
      if (now >= next_report && options_.count <= 0) {
        const double secs = std::chrono::duration<double>(now - last_report).count();
        log_info(kComponent, "sent " + std::to_string(producer_.sent()) + ", delivered " + std::to_string(delivered) +
                                 ", failed " + std::to_string(producer_.failed()) + ", in flight " +
                                 std::to_string(producer_.in_flight()) + ", " +
                                 format_rate(static_cast<double>(delivered - delivered_at_report) / secs) + " msgs/s");
        delivered_at_report = delivered;
        last_report = now;
        next_report = now + kProgressEvery;
      }
    }
  }

  int summarize(const Status& send_status, const LineReader* input) {
    const auto end = Steady::now();
    const double secs = std::chrono::duration<double>(end - start_).count();
    const int64_t sent = producer_.sent();
    const int64_t delivered = producer_.delivered();
    const int64_t failed = producer_.failed() + producer_.in_flight();
    std::string summary = "done: sent " + std::to_string(sent) + ", delivered " + std::to_string(delivered) +
                          ", failed " + std::to_string(failed) + " in " + format_seconds(secs) + " s (" +
                          format_rate(secs > 0 ? static_cast<double>(delivered) / secs : 0) +
                          " msgs/s delivered) to '" + options_.topic + "' at " + options_.bootstrap_servers;
    if (input != nullptr && input->skipped_empty() > 0) {
      summary += "; skipped " + std::to_string(input->skipped_empty()) + " empty lines";
    }
    switch (stop_reason()) {
      case Stop::kSignal:
        summary += "; stopped by " + std::string(g_signal.load() == SIGINT ? "SIGINT" : "SIGTERM");
        break;
      case Stop::kWatchdog:
      case Stop::kFatal:
      case Stop::kNone: break;
    }
    log_info(kComponent, summary);

    bool ok = failed == 0 && send_status.ok();
    if (!send_status.ok()) log_error(kComponent, send_status.message());
    if (Status fatal = producer_.fatal_error(); !fatal.ok()) log_error(kComponent, fatal.message());
    if (stuck_.load()) {
      std::string last = without_retrying(producer_.last_error());
      log_error(kComponent, "nothing delivered to " + options_.bootstrap_servers + " for " +
                                format_rate(options_.timeout_seconds) + " s (--timeout)" +
                                (last.empty() ? "" : ": " + last) + "; giving up");
      ok = false;
    }
    if (delivered == 0 && (failed > 0 || stuck_.load())) {
      // Explain the usual cause when the broker answers: a topic that does not exist (and is
      // not auto-created) makes librdkafka wait silently until the message timeout.
      if (Status topic = producer_.check_topic(seconds(2)); topic.kind() == ErrorKind::kFatal && !topic.ok()) {
        log_error(kComponent, topic.message());
      }
    }
    if (failed > 0) {
      std::string first = producer_.first_failure();
      std::string last = without_retrying(producer_.last_error());
      log_error(kComponent, std::to_string(failed) + " of " + std::to_string(sent) + " messages were not delivered" +
                                (first.empty() ? "" : " (" + first + ")") +
                                (last.empty() || stuck_.load() ? "" : "; last client error: " + last));
    }
    return ok ? 0 : 1;
  }

  const ProducerOptions& options_;
  Producer& producer_;
  Steady::time_point start_;
  Steady::time_point last_progress_;  // poller thread only
  std::atomic<bool> poller_stop_{false};
  std::atomic<bool> stuck_{false};
  bool reported_send_error_ = false;
};

}  // namespace

int run_produce(const std::vector<std::string>& args) {
  auto settings = Settings::load("kpipe produce", producer_setting_specs(), args);
  if (!settings.ok()) {
    std::fprintf(stderr, "kpipe produce: %s\n", settings.status().message().c_str());
    return 2;
  }
  if (settings->help_requested()) {
    std::fputs(Settings::help_text(kUsage, producer_setting_specs()).c_str(), stdout);
    return 0;
  }
  auto options = load_producer_options(*settings);
  if (!options.ok()) {
    std::fprintf(stderr, "kpipe produce: %s\n", options.status().message().c_str());
    return 2;
  }
  const ProducerOptions& o = *options;

  // The input is opened before connecting, so a wrong path is a settings error (exit 2).
  int input_fd = -1;
  if (o.input_path == "-") {
    input_fd = STDIN_FILENO;
  } else if (!o.input_path.empty()) {
    input_fd = ::open(o.input_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (input_fd < 0) {
      std::fprintf(
          stderr, "kpipe produce: %s\n",
          settings->invalid("INPUT", std::string("cannot open the file: ") + std::strerror(errno)).message().c_str());
      return 2;
    }
  }
  std::optional<LineReader> input;
  if (input_fd >= 0) input.emplace(input_fd, [] { return g_signal.load() != 0; });

  ProducerConfig config;
  config.bootstrap_servers = o.bootstrap_servers;
  config.topic = o.topic;
  config.kafka_props = o.kafka_props;
  config.message_timeout = std::chrono::duration_cast<milliseconds>(std::chrono::duration<double>(o.timeout_seconds));
  auto producer = Producer::create(config);
  if (!producer.ok()) {
    std::fprintf(stderr, "kpipe produce: %s\n", producer.status().message().c_str());
    return 2;
  }
  // /metrics for the producer: the counters are atomics read on the server's thread.
  std::unique_ptr<StatusServer> status_server;
  if (!o.status_addr.empty() && o.status_addr != "off") {
    StatusInfo info;
    info.component = "produce";
    info.bootstrap_servers = o.bootstrap_servers;
    info.topic = o.topic;
    info.config = o.effective;
    info.address_setting = "--status-addr";
    Producer* p = producer->get();
    const int64_t started_ms =
        std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto last = std::make_shared<std::pair<std::chrono::steady_clock::time_point, int64_t>>(
        std::chrono::steady_clock::now(), 0);
    auto last_mu = std::make_shared<std::mutex>();
    auto render = [p, info, started_ms, last, last_mu, target = o.rate]() {
      ProducerCounters c;
      c.sent = p->sent();
      c.delivered = p->delivered();
      c.failed = p->failed();
      c.target_per_second = target;
      c.started_at_ms = started_ms;
      std::lock_guard<std::mutex> lock(*last_mu);
      auto now = std::chrono::steady_clock::now();
      double secs = std::chrono::duration<double>(now - last->first).count();
      if (secs > 0) c.rate_per_second = static_cast<double>(c.delivered - last->second) / secs;
      *last = {now, c.delivered};
      return render_producer_metrics(c, info);
    };
    auto server = StatusServer::start_metrics_only(o.status_addr, render, info);
    if (!server.ok()) {
      std::fprintf(stderr, "kpipe produce: %s\n", server.status().message().c_str());
      return 2;
    }
    status_server = std::move(server).value();
    log_info(kComponent, "metrics at " + status_server->url() + "metrics");
  }
  log_info(kComponent, "sending " +
                           std::string(input ? "lines of " + (o.input_path == "-" ? std::string("stdin") : o.input_path)
                                             : std::string("random events")) +
                           " to '" + o.topic + "' at " + o.bootstrap_servers + ": " + describe_limits(o));

  SignalScope signals;
  ProduceRun run(o, **producer);
  int rc = run.run(input ? &*input : nullptr);
  if (status_server) status_server->stop();
  if (input_fd > STDIN_FILENO) ::close(input_fd);
  return rc;
}

int run_produce(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  return run_produce(args);
}

}  // namespace kpipe
