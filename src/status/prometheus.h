// Prometheus text exposition format 0.0.4: a small writer and the two bodies kpipe serves.
//
// Every family gets `# HELP` and `# TYPE` once, before its samples. Names carry the kpipe_
// prefix and their unit (_seconds, _bytes, _records); counters end in _total. Label values are
// escaped (\\, \", \n) as the format requires.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/job_status.h"
#include "status/status_server.h"

namespace kpipe {

class PrometheusWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Starts a family; `type` is "counter", "gauge", "summary", "histogram" or "untyped".
  PrometheusWriter& family(std::string_view name, std::string_view type, std::string_view help);
  // One sample line. `name` is the family name or, for summaries, name_sum / name_count.
  PrometheusWriter& sample(std::string_view name, const Labels& labels, int64_t value);
  PrometheusWriter& sample(std::string_view name, const Labels& labels, double value);

  // A family with a single unlabelled sample.
  PrometheusWriter& counter(std::string_view name, std::string_view help, int64_t value);
  PrometheusWriter& gauge(std::string_view name, std::string_view help, int64_t value);
  PrometheusWriter& gauge(std::string_view name, std::string_view help, double value);

  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

  // Go's strconv style, as Prometheus prints: shortest round-trip, NaN, +Inf, -Inf.
  static std::string format_value(double v);

 private:
  void begin_sample(std::string_view name, const Labels& labels);
  std::string out_;
};

// /metrics of `kpipe stream`, from one snapshot. `now_ms`: wall clock, epoch ms.
std::string render_job_metrics(const StatusSnapshot& s, const StatusInfo& info, int64_t now_ms);

// What `kpipe produce` counts; the producer fills one from its atomics in the renderer.
struct ProducerCounters {
  int64_t sent = 0;              // handed to librdkafka
  int64_t delivered = 0;         // acknowledged by the broker
  int64_t failed = 0;            // delivery reports with an error
  double rate_per_second = 0;    // delivered per second, over the producer's last interval
  double target_per_second = 0;  // MSGS_PER_SEC; 0 = unlimited
  int64_t started_at_ms = 0;     // wall clock, epoch ms
};
// `now_ms` < 0: the wall clock now.
std::string render_producer_metrics(const ProducerCounters& c, const StatusInfo& info, int64_t now_ms = -1);

}  // namespace kpipe
