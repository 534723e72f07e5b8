// The HTTP side of kpipe: the live status page, the JSON API and Prometheus /metrics.
//
// Routes (GET and HEAD only; any other method → 405, any other path → 404):
//   /                     the status page (web/index.html, embedded at build time)
//   /static/<name>        the page's JS, CSS and uPlot, embedded: no CDN, works offline
//   /api/status           JSON: state, totals, lag, files per dt, config (status_json.h);
//                         ?lagHistory=1 adds the lag sampled every second for the last 5 minutes
//   /api/progress?last=N  JSON array of the last N progress objects (default 100)
//   /metrics              Prometheus text exposition format 0.0.4 (prometheus.h)
//   /healthz              200 "ok" while batches succeed or the job waits for data,
//                         503 with the state detail while retrying or failed
// A metrics-only server (the producer) has just /metrics and /healthz.
//
// Threads: the server runs cpp-httplib on its own thread with a small worker pool. A request
// touches the job only through JobStatus::snapshot()/last(), which copy under the job's mutex,
// so the job thread never waits on a client longer than that copy.
//
// Lifetime: start() binds before it returns (a bind failure is an error that names the setting
// and the address); stop() or the destructor closes the socket, ends idle keep-alive connections
// and joins every thread, within about a second.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/job_status.h"

namespace kpipe {

// Facts about the job that do not change while it runs; shown on the page and in /api/status.
struct StatusInfo {
  std::string component = "stream";  // "stream" or "produce"
  std::string version = KPIPE_VERSION;
  std::string bootstrap_servers;  // KAFKA_BOOTSTRAP_SERVERS
  std::string topic;              // KAFKA_TOPIC
  // Every setting as resolved (Settings::effective(): spec order, secrets masked).
  std::vector<std::pair<std::string, std::string>> config;
  // The setting the address came from, for error messages ("STATUS_ADDR", "PRODUCER_STATUS_ADDR").
  std::string address_setting = "STATUS_ADDR";
};

struct ListenAddress {
  std::string host;  // "127.0.0.1", "::1", "localhost"; "0.0.0.0" for ":PORT"
  int port = 0;      // 0 = any free port
};
// "127.0.0.1:8080", "localhost:0", "[::1]:8080", ":8080" (all interfaces). Errors are fatal and
// name `setting` and the value. "off" is not an address: the caller decides not to start then.
Result<ListenAddress> parse_listen_address(std::string_view addr, std::string_view setting);

class StatusServer {
 public:
  // Renders the whole /metrics body. Called on a server thread: it must be thread-safe
  // (read atomics or copy under a lock) and quick.
  using MetricsRenderer = std::function<std::string()>;

  // The full server for `kpipe stream`.
  static Result<std::unique_ptr<StatusServer>> start(const std::string& addr, std::shared_ptr<JobStatus> status,
                                                     StatusInfo info);
  // /metrics (rendered by `render`) and /healthz only, for `kpipe produce --status-addr`.
  static Result<std::unique_ptr<StatusServer>> start_metrics_only(const std::string& addr, MetricsRenderer render,
                                                                  StatusInfo info);

  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Idempotent; returns once the server thread has ended.
  void stop();
  // The bound port (the chosen one when the address asked for port 0).
  int port() const;
  // "http://HOST:PORT/" for the log line; "localhost" stands in for an all-interfaces host.
  std::string url() const;

 private:
  class Impl;
  explicit StatusServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kpipe
