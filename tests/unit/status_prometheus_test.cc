// The exposition writer and the metric bodies, without a server; and the checker itself, so a
// lenient checker cannot make the server tests pass.
#include "status/prometheus.h"

#include <gtest/gtest.h>

#include "status/status_json.h"
#include "status_prometheus_check.h"

namespace kpipe {
namespace {

using testing_prom::check_exposition;

TEST(PrometheusWriter, EscapesLabelValuesAndHelp) {
  PrometheusWriter w;
  w.family("kpipe_x_total", "counter", "a \\ help\nline");
  w.sample("kpipe_x_total", {{"sink", "a\"b\\c\nd"}}, int64_t{3});
  EXPECT_EQ(w.str(),
            "# HELP kpipe_x_total a \\\\ help\\nline\n# TYPE kpipe_x_total counter\n"
            "kpipe_x_total{sink=\"a\\\"b\\\\c\\nd\"} 3\n");
  auto m = check_exposition(w.str());
  ASSERT_TRUE(m.ok()) << m.error_text();
  EXPECT_EQ(m.value("kpipe_x_total{sink=\"a\\\"b\\\\c\\nd\"}"), 3);
}

TEST(PrometheusWriter, FormatsSpecialValues) {
  EXPECT_EQ(PrometheusWriter::format_value(0.25), "0.25");
  EXPECT_EQ(PrometheusWriter::format_value(1e21), "1e+21");
  EXPECT_EQ(PrometheusWriter::format_value(std::nan("")), "NaN");
  EXPECT_EQ(PrometheusWriter::format_value(INFINITY), "+Inf");
  EXPECT_EQ(PrometheusWriter::format_value(-INFINITY), "-Inf");
}

TEST(JobMetrics, AFreshJobIsValidTextWithEmptyQuantiles) {
  StatusSnapshot s;
  auto text = render_job_metrics(s, StatusInfo{}, 0);
  auto m = check_exposition(text);
  ASSERT_TRUE(m.ok()) << m.error_text() << text;
  EXPECT_TRUE(std::isnan(m.value("kpipe_batch_duration_seconds{quantile=\"0.5\"}")));
  EXPECT_EQ(m.value("kpipe_batch_duration_seconds_count"), 0);
  EXPECT_EQ(m.value("kpipe_state{state=\"starting\"}"), 1);
  EXPECT_EQ(m.value("kpipe_last_committed_batch"), -1);
  EXPECT_FALSE(m.has("kpipe_uptime_seconds"));  // not started yet
}

TEST(JobMetrics, EveryCounterEndsInTotalAndEveryFamilyHasKpipePrefix) {
  StatusSnapshot s;
  s.started_at_ms = 1000;
  s.sink_totals["parquet"] = {"parquet", 1, 1, 1};
  s.errors_by_kind["weird kind"] = 1;
  s.lag = {{0, 1, 2}};
  auto m = check_exposition(render_job_metrics(s, StatusInfo{}, 5000));
  ASSERT_TRUE(m.ok()) << m.error_text();
  EXPECT_EQ(m.value("kpipe_uptime_seconds"), 4);
  EXPECT_EQ(m.value("kpipe_errors_total{kind=\"weird kind\"}"), 1);
  for (const auto& [name, type] : m.types) {
    EXPECT_EQ(name.rfind("kpipe_", 0), 0u) << name;
  }
}

TEST(ExpositionChecker, RejectsWhatPrometheusWouldReject) {
  EXPECT_FALSE(check_exposition("kpipe_a 1\n").ok());                                            // no HELP/TYPE
  EXPECT_FALSE(check_exposition("# HELP kpipe_a x\n# TYPE kpipe_a counter\nkpipe_a 1\n").ok());  // no _total
  EXPECT_FALSE(check_exposition("# HELP a_total x\n# TYPE a_total counter\na_total one\n").ok());
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a gauge\na{b=\"1} 1\n").ok());
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a gauge\na{1b=\"1\"} 1\n").ok());
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a gauge\na 1\na 2\n").ok());  // duplicate series
  EXPECT_FALSE(check_exposition("# HELP a x\n# TYPE a gauge\na 1").ok());         // no final newline
  EXPECT_FALSE(
      check_exposition("# HELP a x\n# TYPE a gauge\n# HELP b x\n# TYPE b gauge\na 1\nb 1\na{x=\"1\"} 1\n").ok());
  EXPECT_FALSE(check_exposition("# HELP s x\n# TYPE s summary\ns 1\n").ok());  // quantile missing
  EXPECT_TRUE(check_exposition("# HELP s x\n# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_sum 0\ns_count 0\n").ok());
}

TEST(StatusJson, DtStrings) {
  EXPECT_EQ(dt_string(0), "1970-01-01");
  EXPECT_EQ(dt_string(19700), "2023-12-09");
  EXPECT_EQ(dt_string(-1), "1969-12-31");
}

}  // namespace
}  // namespace kpipe
