#include "cli/stream_command.h"

#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/progress.h"
#include "common/file_system.h"
#include "common/log.h"
#include "common/wakeup.h"
#include "config/settings.h"
#include "config/stream_options.h"
#include "engine/job_status.h"
#include "engine/stream_job.h"
#include "sink/encoders.h"
#include "status/status_server.h"
#include "storage/s3_file_system.h"

namespace kpipe {
namespace {

std::atomic<bool> g_stop{false};
Wakeup* g_wakeup = nullptr;  // ends the job's wait between batches at once

void on_signal(int) {
  g_stop.store(true);
  if (g_wakeup) g_wakeup->notify();
}

// The offsets of the new batches --once runs (a replayed batch was counted by the run that planned it).
class OffsetsDone final : public BatchObserver {
 public:
  explicit OffsetsDone(std::shared_ptr<std::atomic<int64_t>> done) : done_(std::move(done)) {}
  void on_committed(const CommittedBatch& b) override {
    if (b.progress.replay) return;
    int64_t n = 0;
    for (const auto& r : b.progress.ranges) n += r.end - r.start;
    done_->fetch_add(n);
  }

 private:
  std::shared_ptr<std::atomic<int64_t>> done_;
};

std::string format_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

int run_stream(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  auto settings = Settings::load("kpipe stream", stream_setting_specs(), args);
  if (!settings.ok()) {
    std::fprintf(stderr, "kpipe stream: %s\n", settings.status().message().c_str());
    return 2;
  }
  if (settings->help_requested()) {
    std::fputs(Settings::help_text("usage: kpipe stream [flags]\n\nReads a Kafka topic in micro-batches and "
                                   "writes Parquet, CSV and console output partitioned by dt, exactly once.",
                                   stream_setting_specs())
                   .c_str(),
               stdout);
    return 0;
  }
  auto options = load_stream_options(*settings);
  if (!options.ok()) {
    std::fprintf(stderr, "kpipe stream: %s\n", options.status().message().c_str());
    return 2;
  }
  // Never destroyed: the signal handler may use it until the process has exited.
  static Wakeup* const wakeup = new Wakeup();
  if (wakeup->valid()) g_wakeup = wakeup;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  const StreamOptions& o = *options;
  const std::string pool = select_arrow_memory_pool();
  log_info("stream", "reading " + o.topic + " from " + o.bootstrap_servers + " every " +
                         format_seconds(o.trigger_seconds) + " s into " +
                         (o.sink_parquet ? o.output_path + " (parquet) " : "") +
                         (o.sink_csv ? o.csv_output_path + " (csv) " : "") + (o.sink_console ? "console" : "") +
                         " (Arrow allocator: " + pool + ")");
  // One writer per checkpoint, checked before the status port is taken: a second `kpipe stream`
  // with the same settings must hear about the checkpoint, not about port 8080.
  // (A checkpoint on S3 has no lock: the job holds it through a Kafka fence once the broker answers.)
  std::shared_ptr<FileSystem> fs = routing_file_system(local_file_system(o.direct_io), o.s3);
  std::optional<std::unique_ptr<FileLock>> lock;
  // (GROUP_ID: the instances of a group share the checkpoint; each locks a directory of its own in it.)
  if (!fs->is_object_store(o.checkpoint_path) && o.group_id.empty()) {
    auto locked = lock_checkpoint(*fs, o.checkpoint_path);
    if (!locked.ok()) {
      std::fprintf(stderr, "kpipe stream: %s\n", locked.status().message().c_str());
      return locked.status().code() == StatusCode::kLocked ? 2 : 1;
    }
    lock = std::move(locked).value();
  }
  auto status = std::make_shared<JobStatus>();
  std::unique_ptr<StatusServer> status_server;
  if (o.status_addr != "off") {
    StatusInfo info;
    info.component = "stream";
    info.bootstrap_servers = o.bootstrap_servers;
    info.topic = o.topic;
    info.config = o.effective;
    auto server = StatusServer::start(o.status_addr, status, std::move(info));
    if (!server.ok()) {
      std::fprintf(stderr, "kpipe stream: %s\n", server.status().message().c_str());
      return 2;
    }
    status_server = std::move(server).value();
    log_info("stream", "status page at " + status_server->url() + " (JSON at /api/status, Prometheus at /metrics)");
  }
  StreamSeams seams;
  seams.fs = fs;
  seams.wakeup = g_wakeup;
  seams.checkpoint_lock = std::move(lock);
  // --once over a backlog: a progress bar (or plain lines), from the batches' offsets.
  std::unique_ptr<ProgressReporter> progress;
  if (o.once) {
    auto done = std::make_shared<std::atomic<int64_t>>(0);
    ProgressOptions po;
    po.terminal = stderr_is_terminal();
    progress = std::make_unique<ProgressReporter>(po, [done] { return done->load(); });
    seams.observers.push_back(std::make_unique<OffsetsDone>(done));
    seams.once_backlog = [p = progress.get()](int64_t backlog) {
      if (backlog <= 0) return;
      p->set_total(backlog);
      p->start();
    };
  }
  Status st;
  {
    StreamJob job(o, std::move(seams), status);
    st = job.run(g_stop);
    if (progress) progress->finish();
    if (status_server) status_server->stop();
    if (!st.ok()) log_error("stream", st.message());
  }
  fs.reset();
  finalize_s3();  // after every S3 object is gone: the AWS SDK must be shut down explicitly
  if (!st.ok()) {
    // A setting that cannot work (SCHEMA, a checkpoint another process holds) is a usage error,
    // as the flags' errors are: exit 2. Everything else that stops the job: exit 1.
    return st.code() == StatusCode::kInvalidArgument || st.code() == StatusCode::kLocked ? 2 : 1;
  }
  log_info("stream", g_stop.load() ? "stopped" : "done");
  return 0;
}

}  // namespace kpipe
