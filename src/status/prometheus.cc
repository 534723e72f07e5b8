#include "status/prometheus.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>

namespace kpipe {
namespace {

void append_label_value(std::string_view v, std::string& out) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
}

void append_help(std::string_view v, std::string& out) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
}

// Nearest-rank quantile of a sorted, non-empty sample.
double quantile(const std::vector<double>& sorted, double q) {
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[rank == 0 ? 0 : rank - 1];
}

constexpr std::array<JobState, 6> kAllStates = {JobState::kStarting, JobState::kRunning, JobState::kWaitingForData,
                                                JobState::kRetrying, JobState::kFailed,  JobState::kStopped};
constexpr std::array<const char*, 3> kErrorKinds = {"retriable", "replay", "fatal"};

void common_header(PrometheusWriter& w, const StatusInfo& info, int64_t started_at_ms, int64_t now_ms) {
  w.family("kpipe_build_info", "gauge", "Always 1; the labels say which kpipe command and version this is.")
      .sample("kpipe_build_info", {{"component", info.component}, {"version", info.version}}, int64_t{1});
  if (started_at_ms > 0) {
    w.gauge("kpipe_start_time_seconds", "When the command started, in seconds since the Unix epoch.",
            static_cast<double>(started_at_ms) / 1000.0);
    w.gauge("kpipe_uptime_seconds", "Seconds since the command started.",
            static_cast<double>(std::max<int64_t>(0, now_ms - started_at_ms)) / 1000.0);
  }
}

// GROUP_ID: rebalances, fenced batches and the partitions this instance owns now. The
// per-partition series use the same `partition` label as the lag series, so the two join.
void group_metrics(PrometheusWriter& w, const GroupStatus& g) {
  w.counter("kpipe_group_rebalances_total",
            "Partition assignments and revocations this instance has gone through in its consumer group (GROUP_ID).",
            g.rebalances);
  w.gauge("kpipe_group_owned_partitions", "Partitions of the topic this instance owns now in its consumer group.",
          static_cast<int64_t>(g.owned.size()));
  w.family("kpipe_group_partition_owned", "gauge",
           "1 for each partition this instance owns now in its consumer group.");
  for (int32_t p : g.owned) w.sample("kpipe_group_partition_owned", {{"partition", std::to_string(p)}}, int64_t{1});
  w.counter(
      "kpipe_group_fenced_batches_total",
      "Batches abandoned (files removed, nothing committed) because another instance took one of their partitions.",
      g.fenced_batches);
  if (g.last_rebalance_at_ms > 0) {
    w.gauge("kpipe_group_last_rebalance_timestamp_seconds",
            "When this instance's partitions last changed, in seconds since the Unix epoch.",
            static_cast<double>(g.last_rebalance_at_ms) / 1000.0);
  }
}

}  // namespace

PrometheusWriter& PrometheusWriter::family(std::string_view name, std::string_view type, std::string_view help) {
  out_ += "# HELP ";
  out_ += name;
  out_.push_back(' ');
  append_help(help, out_);
  out_ += "\n# TYPE ";
  out_ += name;
  out_.push_back(' ');
  out_ += type;
  out_.push_back('\n');
  return *this;
}

void PrometheusWriter::begin_sample(std::string_view name, const Labels& labels) {
  out_ += name;
  if (!labels.empty()) {
    out_.push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out_.push_back(',');
      first = false;
      out_ += k;
      out_ += "=\"";
      append_label_value(v, out_);
      out_.push_back('"');
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
}

PrometheusWriter& PrometheusWriter::sample(std::string_view name, const Labels& labels, int64_t value) {
  begin_sample(name, labels);
  out_ += std::to_string(value);
  out_.push_back('\n');
  return *this;
}

PrometheusWriter& PrometheusWriter::sample(std::string_view name, const Labels& labels, double value) {
  begin_sample(name, labels);
  out_ += format_value(value);
  out_.push_back('\n');
  return *this;
}

PrometheusWriter& PrometheusWriter::counter(std::string_view name, std::string_view help, int64_t value) {
  return family(name, "counter", help).sample(name, {}, value);
}

PrometheusWriter& PrometheusWriter::gauge(std::string_view name, std::string_view help, int64_t value) {
  return family(name, "gauge", help).sample(name, {}, value);
}

PrometheusWriter& PrometheusWriter::gauge(std::string_view name, std::string_view help, double value) {
  return family(name, "gauge", help).sample(name, {}, value);
}

std::string PrometheusWriter::format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string render_job_metrics(const StatusSnapshot& s, const StatusInfo& info, int64_t now_ms) {
  PrometheusWriter w;
  common_header(w, info, s.started_at_ms, now_ms);

  bool healthy = s.state != JobState::kRetrying && s.state != JobState::kFailed;
  w.gauge("kpipe_up", "1 while batches succeed or the job waits for data, 0 while it is retrying or failed.",
          int64_t{healthy ? 1 : 0});
  w.family("kpipe_state", "gauge", "1 for the job's current state, 0 for the others.");
  for (JobState st : kAllStates) {
    w.sample("kpipe_state", {{"state", job_state_name(st)}}, int64_t{st == s.state ? 1 : 0});
  }

  w.gauge("kpipe_current_batch", "Id of the batch being planned or run; -1 before the first.", s.current_batch);
  w.gauge("kpipe_last_committed_batch", "Id of the last batch whose commit was written; -1 before the first.",
          s.last_committed_batch);
  w.counter("kpipe_batches_total", "Batches committed since start, replays included.", s.total_batches);
  w.counter("kpipe_input_records_total", "Kafka records read by committed batches.", s.total_input_rows);
  w.counter("kpipe_dead_letter_records_total", "Records that failed to decode and went to the dead-letter sink.",
            s.total_dead_lettered);
  w.counter("kpipe_late_records_total",
            "Records written into a dt day that DT_COMPLETE_AFTER had already marked complete (never dropped).",
            s.total_late_rows);
  if (s.complete_through) {
    w.gauge("kpipe_last_completed_day_timestamp_seconds",
            "Start (UTC midnight) of the last dt day DT_COMPLETE_AFTER declared complete, in seconds since the epoch.",
            int64_t{*s.complete_through} * 86400);
  }

  w.family("kpipe_output_rows_total", "counter", "Rows written by committed batches, per sink.");
  for (const auto& [sink, t] : s.sink_totals) w.sample("kpipe_output_rows_total", {{"sink", sink}}, t.rows);
  w.family("kpipe_output_files_total", "counter", "Files written by committed batches, per sink.");
  for (const auto& [sink, t] : s.sink_totals) w.sample("kpipe_output_files_total", {{"sink", sink}}, t.files);
  w.family("kpipe_output_bytes_total", "counter", "Bytes of the files written by committed batches, per sink.");
  for (const auto& [sink, t] : s.sink_totals) w.sample("kpipe_output_bytes_total", {{"sink", sink}}, t.bytes);

  w.family(
      "kpipe_errors_total", "counter",
      "Failed batch attempts by kind: retriable (tried again), replay (re-run from the write-ahead entry), fatal.");
  for (const char* kind : kErrorKinds) {
    auto it = s.errors_by_kind.find(kind);
    w.sample("kpipe_errors_total", {{"kind", kind}}, it == s.errors_by_kind.end() ? int64_t{0} : it->second);
  }
  for (const auto& [kind, n] : s.errors_by_kind) {
    // Not captured directly: clang before 16 cannot capture a structured binding (make lint).
    const std::string& name = kind;
    if (std::find_if(kErrorKinds.begin(), kErrorKinds.end(), [&](const char* k) { return name == k; }) ==
        kErrorKinds.end()) {
      w.sample("kpipe_errors_total", {{"kind", kind}}, n);
    }
  }

  // Quantiles over the batches the job keeps (a sliding window, as summaries are defined);
  // _sum and _count over every batch since start, so rate() works.
  w.family("kpipe_batch_duration_seconds", "summary",
           "Wall time of a batch from plan to commit; quantiles over the recent batches kept by the job.");
  std::vector<double> sorted = s.batch_duration_ms;
  std::sort(sorted.begin(), sorted.end());
  for (double q : {0.5, 0.9, 0.99, 1.0}) {
    double v = sorted.empty() ? std::nan("") : quantile(sorted, q) / 1000.0;
    w.sample("kpipe_batch_duration_seconds", {{"quantile", PrometheusWriter::format_value(q)}}, v);
  }
  w.sample("kpipe_batch_duration_seconds_sum", {}, static_cast<double>(s.total_batch_duration_ms) / 1000.0);
  w.sample("kpipe_batch_duration_seconds_count", {}, s.total_batches);

  // The consumer lag (engine/lag_tracker.h): committed = the last committed batch's end offsets,
  // latest = the high watermark sampled every few seconds, lag = latest - committed.
  const std::string lag_note =
      " (committed: end offset of the last committed batch; latest: high watermark, sampled every 2 s).";
  w.family("kpipe_consumer_lag_records", "gauge", "Records after the last committed batch, per partition" + lag_note);
  int64_t total_lag = 0;
  for (const auto& l : s.lag) {
    w.sample("kpipe_consumer_lag_records", {{"partition", std::to_string(l.partition)}}, l.records());
    total_lag += l.records();
  }
  w.gauge("kpipe_consumer_total_lag_records", "Records after the last committed batch, all partitions" + lag_note,
          total_lag);
  w.family("kpipe_committed_offset", "gauge", "End offset of the last committed batch, per partition.");
  for (const auto& l : s.lag)
    w.sample("kpipe_committed_offset", {{"partition", std::to_string(l.partition)}}, l.committed);
  w.family("kpipe_latest_offset", "gauge", "High watermark of the partition, sampled every 2 s.");
  for (const auto& l : s.lag) w.sample("kpipe_latest_offset", {{"partition", std::to_string(l.partition)}}, l.latest);
  w.family("kpipe_oldest_uncommitted_age_seconds", "gauge",
           "Age of the oldest record not yet committed (now - its Kafka timestamp), per partition; 0 when caught up.");
  for (const auto& l : s.lag) {
    w.sample("kpipe_oldest_uncommitted_age_seconds", {{"partition", std::to_string(l.partition)}},
             oldest_uncommitted_age_seconds(l, now_ms));
  }
  if (s.lag_sampled_at_ms > 0) {
    w.gauge("kpipe_latest_offset_sampled_timestamp_seconds",
            "When the high watermarks were last sampled, in seconds since the Unix epoch.",
            static_cast<double>(s.lag_sampled_at_ms) / 1000.0);
  }
  if (in_group(s)) group_metrics(w, *s.group);
  return w.take();
}

std::string render_producer_metrics(const ProducerCounters& c, const StatusInfo& info, int64_t now_ms) {
  if (now_ms < 0) {
    now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                 .count();
  }
  PrometheusWriter w;
  common_header(w, info, c.started_at_ms, now_ms);
  w.gauge("kpipe_up", "Always 1 while the producer serves this page.", int64_t{1});
  w.counter("kpipe_producer_sent_records_total", "Records handed to the Kafka client.", c.sent);
  w.counter("kpipe_producer_delivered_records_total", "Records acknowledged by the broker.", c.delivered);
  w.counter("kpipe_producer_failed_records_total", "Records whose delivery failed.", c.failed);
  w.gauge("kpipe_producer_rate_records_per_second", "Delivered records per second, recently.", c.rate_per_second);
  w.gauge("kpipe_producer_target_rate_records_per_second", "The configured rate (MSGS_PER_SEC); 0 means unlimited.",
          c.target_per_second);
  return w.take();
}

}  // namespace kpipe
