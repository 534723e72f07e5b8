#include "status/status_json.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/json_writer.h"
#include "common/time_format.h"

namespace kpipe {

std::string dt_string(int32_t day) {
  std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{day}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

namespace {

// GROUP_ID: this instance's part of the group. Written only when it is in one, so a single
// instance's document is unchanged.
void write_group(const GroupStatus& g, JsonWriter& w) {
  w.key("group")
      .begin_object()
      .field("groupId", g.group_id)
      .field("memberId", g.member_id)
      .key("ownedPartitions")
      .begin_array();
  for (int32_t p : g.owned) w.value(p);
  w.end_array().field("rebalances", g.rebalances).field("fencedBatches", g.fenced_batches).key("lastRebalanceAt");
  if (g.last_rebalance_at_ms > 0) {
    char text[kMaxTimeText];
    char* end = format_timestamp(g.last_rebalance_at_ms * 1000, TimestampStyle::kIsoUtcMillis, text);
    w.value(std::string_view(text, static_cast<size_t>(end - text)));
  } else {
    w.null();
  }
  w.end_object();
}

}  // namespace

std::string status_json(const StatusSnapshot& s, const StatusInfo& info, int64_t now_ms,
                        const std::vector<LagSample>* lag_history) {
  const bool healthy = is_healthy(s.state);
  double uptime =
      s.started_at_ms > 0 ? static_cast<double>(std::max<int64_t>(0, now_ms - s.started_at_ms)) / 1000.0 : 0;

  JsonWriter w;
  w.begin_object()
      .field("component", info.component)
      .field("version", info.version)
      .field("queryId", s.query_id)
      .field("state", job_state_name(s.state))
      .field("stateDetail", s.state_detail)
      .field("healthy", healthy)
      .field("startedAtMs", s.started_at_ms)
      .field("nowMs", now_ms)
      .field("uptimeSeconds", uptime);
  w.key("kafka")
      .begin_object()
      .field("bootstrapServers", info.bootstrap_servers)
      .field("topic", info.topic)
      .end_object();
  w.field("currentBatch", s.current_batch).field("lastCommittedBatch", s.last_committed_batch);

  w.key("totals")
      .begin_object()
      .field("batches", s.total_batches)
      .field("inputRows", s.total_input_rows)
      .field("deadLettered", s.total_dead_lettered)
      .field("batchDurationMs", s.total_batch_duration_ms)
      .field("lateRecords", s.total_late_rows)
      .end_object();
  if (s.complete_through) w.field("lastCompletedDay", dt_string(*s.complete_through));

  w.key("sinks").begin_object();
  for (const auto& [name, t] : s.sink_totals) {
    w.key(name).begin_object().field("rows", t.rows).field("files", t.files).field("bytes", t.bytes).end_object();
  }
  w.end_object();

  int64_t total_lag = 0;
  double oldest_age = 0;  // the largest of the partitions'; NaN ones left out (JSON has no NaN)
  w.key("lag").begin_array();
  for (const auto& l : s.lag) {
    total_lag += l.records();
    const double age = oldest_uncommitted_age_seconds(l, now_ms);
    if (!std::isnan(age)) oldest_age = std::max(oldest_age, age);
    w.begin_object()
        .field("partition", l.partition)
        .field("committedOffset", l.committed)
        .field("latestOffset", l.latest)
        .field("lag", l.records())
        .field("oldestUncommittedAgeSeconds", age)  // null while not known
        .end_object();
  }
  w.end_array();
  w.field("totalLag", total_lag)
      .field("oldestUncommittedAgeSeconds", oldest_age)
      .field("lagSampledAtMs", s.lag_sampled_at_ms);
  if (in_group(s)) write_group(*s.group, w);

  w.key("filesPerDt").begin_object();
  for (const auto& [sink, days] : s.files_per_day) {
    w.key(sink).begin_array();
    for (const auto& [day, cell] : days) {
      w.begin_object().field("dt", dt_string(day)).field("files", cell.first).field("rows", cell.second).end_object();
    }
    w.end_array();
  }
  w.end_object();

  w.field("deadLettered", s.total_dead_lettered);
  w.key("errorsByKind").begin_object();
  for (const auto& [kind, n] : s.errors_by_kind) w.field(kind, n);
  w.end_object();

  w.key("config").begin_array();
  for (const auto& [name, value] : info.config) w.begin_object().field("name", name).field("value", value).end_object();
  w.end_array();

  if (lag_history != nullptr) {
    w.key("lagHistory").begin_array();
    for (const auto& sample : *lag_history) {
      w.begin_object().field("atMs", sample.at_ms).key("lag").begin_array();
      for (const auto& l : sample.lag) {
        w.begin_object().field("partition", l.partition).field("lag", l.records()).end_object();
      }
      w.end_array().end_object();
    }
    w.end_array();
  }
  w.end_object();
  return w.take();
}

std::string progress_array_json(const std::vector<BatchProgress>& batches, std::string_view query_id) {
  std::string out = "[";
  for (size_t i = 0; i < batches.size(); ++i) {
    if (i) out += ",\n";
    out += progress_json(batches[i], query_id);
  }
  out += "]";
  return out;
}

}  // namespace kpipe
