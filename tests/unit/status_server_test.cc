// StatusServer end to end over loopback: a JobStatus filled with batches and errors, every
// route fetched with httplib::Client, /metrics through a strict exposition checker, the JSON
// endpoints parsed with simdjson and compared with what the job recorded.
#include "status/status_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/stream_options.h"
#include "status/prometheus.h"
#include "status_prometheus_check.h"

namespace kpipe {
namespace {

using testing_prom::check_exposition;

BatchProgress make_batch(int64_t id, int64_t rows, int64_t total_ms, int64_t dead) {
  BatchProgress p;
  p.batch_id = id;
  p.started_at_ms = 1'700'000'000'000 + id * 1000;
  p.num_input_rows = rows;
  p.input_rows_per_second = static_cast<double>(rows);
  p.processed_rows_per_second = static_cast<double>(rows) * 10;
  p.duration_ms = {{"plan", 1}, {"read", total_ms - 2}, {"commit", 1}, {"total", total_ms}};
  p.ranges = {{0, id * 10, id * 10 + rows / 2}, {1, id * 10, id * 10 + rows - rows / 2}};
  p.sinks = {
      {"parquet", rows - dead, 2, 1000 + id}, {"csv", rows - dead, 1, 500}, {"dead-letter", dead, dead ? 1 : 0, 0}};
  p.dead_lettered = dead;
  p.outputs = {{"parquet", 19700, 2, rows - dead}, {"csv", 19700, 1, rows - dead}};
  return p;
}

class StatusServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    status_ = std::make_shared<JobStatus>();
    status_->set_query_id("3f2a9c1e-0000-4000-8000-000000000001");
    status_->set_state(JobState::kRunning);
    status_->add_batch(make_batch(0, 100, 40, 0));
    status_->add_batch(make_batch(1, 50, 20, 3));
    status_->add_batch(make_batch(2, 10, 60, 0));
    status_->set_current_batch(3);
    // Partition 0's oldest uncommitted record was written 90 s ago; partition 2's is not known yet.
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    status_->set_lag({{0, 35, 40, now_ms - 90'000}, {1, 35, 35}, {2, 0, 7}}, now_ms - 1500);
    status_->record_error("retriable");
    status_->record_error("retriable");
    status_->record_error("replay");

    StatusInfo info;
    info.bootstrap_servers = "127.0.0.1:9092";
    info.topic = "events";
    info.config = {{"KAFKA_TOPIC", "events"}, {"TRIGGER_SECONDS", "1"}, {"OUTPUT_PATH", "data/output \"q\""}};
    auto server = StatusServer::start("127.0.0.1:0", status_, info);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = std::move(server).value();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_connection_timeout(2);
    client_->set_read_timeout(5);
  }

  httplib::Result get(const std::string& path) { return client_->Get(path.c_str()); }

  simdjson::dom::element parse(const std::string& body) {
    return parser_.parse(body);  // throws on invalid JSON, failing the test
  }

  std::shared_ptr<JobStatus> status_;
  std::unique_ptr<StatusServer> server_;
  std::unique_ptr<httplib::Client> client_;
  simdjson::dom::parser parser_;
};

TEST_F(StatusServerTest, PortZeroPicksAFreePort) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->url(), "http://127.0.0.1:" + std::to_string(server_->port()) + "/");
}

TEST_F(StatusServerTest, MetricsAreStrictPrometheusTextWithTheJobsNumbers) {
  auto res = get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  auto m = check_exposition(res->body);
  ASSERT_TRUE(m.ok()) << m.error_text() << "\n" << res->body;

  EXPECT_EQ(m.value("kpipe_input_records_total"), 160);
  EXPECT_EQ(m.value("kpipe_output_rows_total{sink=\"parquet\"}"), 157);
  EXPECT_EQ(m.value("kpipe_output_rows_total{sink=\"csv\"}"), 157);
  EXPECT_EQ(m.value("kpipe_output_rows_total{sink=\"dead-letter\"}"), 3);
  EXPECT_EQ(m.value("kpipe_output_files_total{sink=\"parquet\"}"), 6);
  EXPECT_EQ(m.value("kpipe_output_files_total{sink=\"csv\"}"), 3);
  EXPECT_EQ(m.value("kpipe_output_bytes_total{sink=\"parquet\"}"), 3003);
  EXPECT_EQ(m.value("kpipe_dead_letter_records_total"), 3);
  EXPECT_EQ(m.value("kpipe_last_committed_batch"), 2);
  EXPECT_EQ(m.value("kpipe_current_batch"), 3);
  EXPECT_EQ(m.value("kpipe_batches_total"), 3);
  EXPECT_EQ(m.value("kpipe_consumer_lag_records{partition=\"0\"}"), 5);
  EXPECT_EQ(m.value("kpipe_consumer_lag_records{partition=\"1\"}"), 0);
  EXPECT_EQ(m.value("kpipe_consumer_lag_records{partition=\"2\"}"), 7);
  EXPECT_EQ(m.value("kpipe_consumer_total_lag_records"), 12);
  EXPECT_EQ(m.value("kpipe_committed_offset{partition=\"0\"}"), 35);
  EXPECT_EQ(m.value("kpipe_latest_offset{partition=\"0\"}"), 40);
  EXPECT_GE(m.value("kpipe_oldest_uncommitted_age_seconds{partition=\"0\"}"), 90);
  EXPECT_LT(m.value("kpipe_oldest_uncommitted_age_seconds{partition=\"0\"}"), 100);
  EXPECT_EQ(m.value("kpipe_oldest_uncommitted_age_seconds{partition=\"1\"}"), 0);
  ASSERT_TRUE(m.has("kpipe_oldest_uncommitted_age_seconds{partition=\"2\"}"));
  EXPECT_TRUE(std::isnan(m.value("kpipe_oldest_uncommitted_age_seconds{partition=\"2\"}")));
  EXPECT_GT(m.value("kpipe_latest_offset_sampled_timestamp_seconds"), 1.7e9);
  EXPECT_EQ(m.value("kpipe_errors_total{kind=\"retriable\"}"), 2);
  EXPECT_EQ(m.value("kpipe_errors_total{kind=\"replay\"}"), 1);
  EXPECT_EQ(m.value("kpipe_errors_total{kind=\"fatal\"}"), 0);
  EXPECT_EQ(m.value("kpipe_batch_duration_seconds_count"), 3);
  EXPECT_DOUBLE_EQ(m.value("kpipe_batch_duration_seconds_sum"), 0.12);
  EXPECT_DOUBLE_EQ(m.value("kpipe_batch_duration_seconds{quantile=\"0.5\"}"), 0.04);
  EXPECT_DOUBLE_EQ(m.value("kpipe_batch_duration_seconds{quantile=\"1\"}"), 0.06);
  EXPECT_EQ(m.types["kpipe_batch_duration_seconds"], "summary");
  EXPECT_EQ(m.value("kpipe_up"), 1);
  EXPECT_EQ(m.value("kpipe_state{state=\"running\"}"), 1);
  EXPECT_EQ(m.value("kpipe_state{state=\"retrying\"}"), 0);
  EXPECT_EQ(m.value("kpipe_build_info{component=\"stream\",version=\"" KPIPE_VERSION "\"}"), 1);
  EXPECT_TRUE(m.has("kpipe_uptime_seconds"));

  status_->set_state(JobState::kRetrying, "broker down");
  auto again = check_exposition(get("/metrics")->body);
  EXPECT_EQ(again.value("kpipe_up"), 0);
  EXPECT_EQ(again.value("kpipe_state{state=\"retrying\"}"), 1);
  EXPECT_EQ(again.value("kpipe_state{state=\"running\"}"), 0);
}

TEST_F(StatusServerTest, StatusJsonMatchesTheJob) {
  auto res = get("/api/status");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
  auto doc = parse(res->body);
  EXPECT_EQ(std::string_view(doc["queryId"]), "3f2a9c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(std::string_view(doc["state"]), "running");
  EXPECT_EQ(std::string_view(doc["stateDetail"]), "");
  EXPECT_TRUE(bool(doc["healthy"]));
  EXPECT_EQ(std::string_view(doc["component"]), "stream");
  EXPECT_GE(double(doc["uptimeSeconds"]), 0.0);
  EXPECT_EQ(std::string_view(doc["kafka"]["bootstrapServers"]), "127.0.0.1:9092");
  EXPECT_EQ(std::string_view(doc["kafka"]["topic"]), "events");
  EXPECT_EQ(int64_t(doc["currentBatch"]), 3);
  EXPECT_EQ(int64_t(doc["lastCommittedBatch"]), 2);
  EXPECT_EQ(int64_t(doc["totals"]["batches"]), 3);
  EXPECT_EQ(int64_t(doc["totals"]["inputRows"]), 160);
  EXPECT_EQ(int64_t(doc["totals"]["batchDurationMs"]), 120);
  EXPECT_EQ(int64_t(doc["sinks"]["parquet"]["rows"]), 157);
  EXPECT_EQ(int64_t(doc["sinks"]["parquet"]["files"]), 6);
  EXPECT_EQ(int64_t(doc["sinks"]["parquet"]["bytes"]), 3003);
  EXPECT_EQ(int64_t(doc["sinks"]["dead-letter"]["rows"]), 3);
  EXPECT_EQ(int64_t(doc["deadLettered"]), 3);
  EXPECT_EQ(int64_t(doc["totalLag"]), 12);
  simdjson::dom::array lag = doc["lag"];
  ASSERT_EQ(lag.size(), 3u);
  EXPECT_EQ(int64_t(lag.at(0)["partition"]), 0);
  EXPECT_EQ(int64_t(lag.at(0)["committedOffset"]), 35);
  EXPECT_EQ(int64_t(lag.at(0)["latestOffset"]), 40);
  EXPECT_EQ(int64_t(lag.at(0)["lag"]), 5);
  EXPECT_EQ(int64_t(lag.at(2)["lag"]), 7);
  EXPECT_GE(double(lag.at(0)["oldestUncommittedAgeSeconds"]), 90);
  EXPECT_LT(double(lag.at(0)["oldestUncommittedAgeSeconds"]), 100);
  EXPECT_EQ(double(lag.at(1)["oldestUncommittedAgeSeconds"]), 0);
  EXPECT_TRUE(lag.at(2)["oldestUncommittedAgeSeconds"].is_null());
  EXPECT_EQ(double(doc["oldestUncommittedAgeSeconds"]), double(lag.at(0)["oldestUncommittedAgeSeconds"]));
  EXPECT_GT(int64_t(doc["lagSampledAtMs"]), 0);
  simdjson::dom::array parquet_days = doc["filesPerDt"]["parquet"];
  ASSERT_EQ(parquet_days.size(), 1u);
  EXPECT_EQ(std::string_view(parquet_days.at(0)["dt"]), "2023-12-09");  // day 19700
  EXPECT_EQ(int64_t(parquet_days.at(0)["files"]), 6);
  EXPECT_EQ(int64_t(parquet_days.at(0)["rows"]), 157);
  EXPECT_EQ(int64_t(doc["errorsByKind"]["retriable"]), 2);
  EXPECT_EQ(int64_t(doc["errorsByKind"]["replay"]), 1);
  simdjson::dom::array config = doc["config"];
  ASSERT_EQ(config.size(), 3u);
  EXPECT_EQ(std::string_view(config.at(0)["name"]), "KAFKA_TOPIC");
  EXPECT_EQ(std::string_view(config.at(2)["value"]), "data/output \"q\"");
}

TEST_F(StatusServerTest, LagHistoryOnlyWhenAskedFor) {
  simdjson::dom::object plain = parse(get("/api/status")->body);
  EXPECT_EQ(plain["lagHistory"].error(), simdjson::NO_SUCH_FIELD);

  // The server samples the lag when it starts, then every second.
  simdjson::dom::array history = parse(get("/api/status?lagHistory=1")->body)["lagHistory"];
  ASSERT_GE(history.size(), 1u);
  simdjson::dom::array lag = history.at(0)["lag"];
  ASSERT_EQ(lag.size(), 3u);
  EXPECT_EQ(int64_t(lag.at(0)["partition"]), 0);
  EXPECT_EQ(int64_t(lag.at(0)["lag"]), 5);
  EXPECT_EQ(int64_t(lag.at(2)["lag"]), 7);
  EXPECT_GT(int64_t(history.at(0)["atMs"]), 0);
}

TEST_F(StatusServerTest, TheGroupAppearsOnceTheEngineReportsIt) {
  simdjson::dom::object single = parse(get("/api/status")->body);
  EXPECT_EQ(single["group"].error(), simdjson::NO_SUCH_FIELD);
  EXPECT_EQ(get("/metrics")->body.find("kpipe_group_"), std::string::npos);

  GroupStatus g;
  g.group_id = "kpipe-events";
  g.member_id = "rdkafka-0a1b";
  g.owned = {2, 0};
  g.rebalances = 1;
  g.last_rebalance_at_ms = 1'796'551'200'000;
  status_->set_group(g);
  simdjson::dom::object grouped = parse(get("/api/status")->body);
  EXPECT_EQ(std::string_view(grouped["group"]["memberId"]), "rdkafka-0a1b");
  EXPECT_EQ(simdjson::dom::array(grouped["group"]["ownedPartitions"]).size(), 2u);
  EXPECT_EQ(std::string_view(grouped["group"]["lastRebalanceAt"]), "2026-12-06T10:00:00.000Z");
  auto m = check_exposition(get("/metrics")->body);
  ASSERT_TRUE(m.ok()) << m.error_text();
  EXPECT_EQ(m.value("kpipe_group_owned_partitions"), 2);
  EXPECT_EQ(m.value("kpipe_group_partition_owned{partition=\"0\"}"), 1);
  EXPECT_EQ(m.value("kpipe_group_partition_owned{partition=\"2\"}"), 1);
  EXPECT_EQ(m.value("kpipe_group_rebalances_total"), 1);
}

TEST_F(StatusServerTest, ProgressReturnsTheLastBatchesOldestFirst) {
  auto res = get("/api/progress?last=2");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  simdjson::dom::array batches = parse(res->body);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(int64_t(batches.at(0)["batchId"]), 1);
  EXPECT_EQ(int64_t(batches.at(1)["batchId"]), 2);
  EXPECT_EQ(std::string_view(batches.at(1)["id"]), "3f2a9c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(int64_t(batches.at(0)["numInputRows"]), 50);
  EXPECT_EQ(int64_t(batches.at(0)["deadLettered"]), 3);
  EXPECT_EQ(int64_t(batches.at(0)["durationMs"]["total"]), 20);
  EXPECT_EQ(int64_t(batches.at(0)["sinks"]["parquet"]["rows"]), 47);
  EXPECT_EQ(simdjson::dom::array(batches.at(0)["sources"]).size(), 2u);

  simdjson::dom::array all = parse(get("/api/progress")->body);  // default: up to 100
  EXPECT_EQ(all.size(), 3u);
  simdjson::dom::array none = parse(get("/api/progress?last=0")->body);
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(get("/api/progress?last=abc")->status, 400);
  EXPECT_EQ(get("/api/progress?last=-1")->status, 400);
}

TEST_F(StatusServerTest, HealthzFollowsTheJobState) {
  auto ok = get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "ok\n");

  status_->set_state(JobState::kWaitingForData);
  EXPECT_EQ(get("/healthz")->status, 200);

  status_->set_state(JobState::kRetrying, "broker 127.0.0.1:9092 unavailable");
  auto retrying = get("/healthz");
  EXPECT_EQ(retrying->status, 503);
  EXPECT_EQ(retrying->body, "retrying: broker 127.0.0.1:9092 unavailable\n");

  status_->set_state(JobState::kFailed, "checkpoint is corrupt");
  EXPECT_EQ(get("/healthz")->status, 503);

  status_->set_state(JobState::kRunning);
  EXPECT_EQ(get("/healthz")->status, 200);
}

TEST_F(StatusServerTest, PageAndEmbeddedAssetsAreServed) {
  auto page = get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("/static/uPlot.min.js"), std::string::npos);
  EXPECT_NE(page->body.find("/static/app.js"), std::string::npos);

  for (const char* name : {"app.js", "style.css", "uPlot.min.js", "uPlot.min.css", "favicon.svg"}) {
    auto res = get(std::string("/static/") + name);
    ASSERT_TRUE(res) << name;
    EXPECT_EQ(res->status, 200) << name;
    EXPECT_GT(res->body.size(), 100u) << name;
    EXPECT_FALSE(res->get_header_value("ETag").empty()) << name;
  }
  EXPECT_EQ(get("/static/app.js")->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(get("/static/uPlot.min.js")->body.find("uPlot"), std::string::npos);

  std::string etag = get("/static/app.js")->get_header_value("ETag");
  auto cached = client_->Get("/static/app.js", {{"If-None-Match", etag}});
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->status, 304);
  EXPECT_TRUE(cached->body.empty());
}

TEST_F(StatusServerTest, EverythingElseIsNotFound) {
  for (const char* path : {"/nope", "/../etc/passwd", "/static/../etc/passwd", "/static/", "/static/index.html",
                           "/static/app.js/", "/api", "/api/status/x", "/index.html", "/metrics/x", "//metrics"}) {
    auto res = get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
  }
  httplib::Client raw("127.0.0.1", server_->port());
  raw.set_url_encode(false);
  EXPECT_EQ(raw.Get("/%2e%2e/%2e%2e/etc/passwd")->status, 404);
  EXPECT_EQ(raw.Get("/static/%2e%2e%2fCMakeLists.txt")->status, 404);
}

TEST_F(StatusServerTest, OnlyGetAndHead) {
  auto head = client_->Head("/metrics");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  auto post = client_->Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(client_->Delete("/api/status")->status, 405);
  EXPECT_EQ(client_->Put("/", "x", "text/plain")->status, 405);
}

TEST_F(StatusServerTest, StopsWithinASecondAfterAKeepAliveClient) {
  client_->set_keep_alive(true);
  auto res = get("/metrics");
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Connection"), "close");
  auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  server_->stop();  // idempotent
  httplib::Client fresh("127.0.0.1", server_->port());
  fresh.set_connection_timeout(1);
  EXPECT_FALSE(fresh.Get("/healthz"));
}

TEST_F(StatusServerTest, StopsWithinASecondWhileAClientSendsNothing) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(server_->port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::send(fd, "GET /metr", 9, 0), 9);  // half a request line, then silence
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto t0 = std::chrono::steady_clock::now();
  server_.reset();  // the destructor stops too
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  ::close(fd);
}

TEST_F(StatusServerTest, ServesWhileTheJobWrites) {
  std::atomic<bool> done{false};
  std::thread job([&] {
    for (int64_t id = 3; !done.load(); ++id) {
      status_->set_current_batch(id);
      status_->add_batch(make_batch(id, 20, 5, id % 2));
      status_->set_lag({{0, id, id + 3}});
    }
  });
  for (int i = 0; i < 30; ++i) {
    auto m = check_exposition(get("/metrics")->body);
    EXPECT_TRUE(m.ok()) << m.error_text();
    parse(get("/api/status")->body);
    parse(get("/api/progress?last=50")->body);
  }
  done = true;
  job.join();
}

TEST(StatusServerStart, ABusyPortIsAnErrorNamingTheSettingAndAddress) {
  auto status = std::make_shared<JobStatus>();
  auto first = StatusServer::start("127.0.0.1:0", status, StatusInfo{});
  ASSERT_TRUE(first.ok());
  std::string addr = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = StatusServer::start(addr, status, StatusInfo{});
  ASSERT_FALSE(second.ok());
  const std::string& msg = second.status().message();
  EXPECT_NE(msg.find("STATUS_ADDR=" + addr), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot listen"), std::string::npos) << msg;
  EXPECT_NE(msg.find("in use"), std::string::npos) << msg;
}

TEST(StatusServerStart, BadAddressesAreErrors) {
  for (const char* bad : {"8080", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000", "::1:8080", "off"}) {
    auto r = parse_listen_address(bad, "STATUS_ADDR");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("STATUS_ADDR='" + std::string(bad) + "'"), std::string::npos)
        << r.status().message();
  }
  auto v6 = parse_listen_address("[::1]:8080", "STATUS_ADDR");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  auto any = parse_listen_address(":0", "STATUS_ADDR");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "0.0.0.0");
  auto bad_start = StatusServer::start("nonsense", std::make_shared<JobStatus>(), StatusInfo{});
  EXPECT_FALSE(bad_start.ok());
}

TEST(StatusServerMetricsOnly, ServesTheProducersMetricsAndNothingElse) {
  std::atomic<int64_t> sent{0};
  StatusInfo info;
  info.component = "produce";
  info.address_setting = "PRODUCER_STATUS_ADDR";
  auto server = StatusServer::start_metrics_only(
      "127.0.0.1:0",
      [&] {
        ProducerCounters c;
        c.sent = sent.load();
        c.delivered = c.sent - 1;
        c.failed = 1;
        c.rate_per_second = 12.5;
        c.target_per_second = 10;
        return render_producer_metrics(c, info, 0);
      },
      info);
  ASSERT_TRUE(server.ok()) << server.status().message();
  httplib::Client cli("127.0.0.1", (*server)->port());
  sent = 42;
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  auto m = check_exposition(res->body);
  ASSERT_TRUE(m.ok()) << m.error_text() << res->body;
  EXPECT_EQ(m.value("kpipe_producer_sent_records_total"), 42);
  EXPECT_EQ(m.value("kpipe_producer_delivered_records_total"), 41);
  EXPECT_EQ(m.value("kpipe_producer_failed_records_total"), 1);
  EXPECT_EQ(m.value("kpipe_producer_rate_records_per_second"), 12.5);
  EXPECT_EQ(m.value("kpipe_build_info{component=\"produce\",version=\"" KPIPE_VERSION "\"}"), 1);
  EXPECT_EQ(cli.Get("/healthz")->status, 200);
  for (const char* path : {"/", "/api/status", "/api/progress", "/static/app.js"}) {
    EXPECT_EQ(cli.Get(path)->status, 404) << path;
  }

  auto busy = StatusServer::start_metrics_only(
      "127.0.0.1:" + std::to_string((*server)->port()), [] { return std::string(); }, info);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.status().message().find("PRODUCER_STATUS_ADDR="), std::string::npos);
}

// The status page shows the job's settings: by default only this machine may see it.
TEST(StatusServerSecurity, DefaultAddressIsLoopbackOnly) {
  std::string default_addr;
  for (const SettingSpec& spec : stream_setting_specs()) {
    if (spec.name == "STATUS_ADDR") default_addr = spec.default_value;
  }
  ASSERT_FALSE(default_addr.empty());
  auto addr = parse_listen_address(default_addr, "STATUS_ADDR");
  ASSERT_TRUE(addr.ok()) << addr.status().message();
  EXPECT_EQ(addr->host, "127.0.0.1");

  // Started on the default host, the server's listening socket is bound to 127.0.0.1 alone (read
  // from the kernel's socket table, so the test sends nothing to the machine's other addresses).
  auto status = std::make_shared<JobStatus>();
  auto server = StatusServer::start(addr->host + ":0", status, StatusInfo{});
  ASSERT_TRUE(server.ok()) << server.status().message();
  const int port = (*server)->port();
  httplib::Client local("127.0.0.1", port);
  ASSERT_TRUE(local.Get("/healthz"));
  std::ifstream table("/proc/net/tcp");
  ASSERT_TRUE(table) << "no /proc/net/tcp";
  char want[16];
  std::snprintf(want, sizeof want, ":%04X", port);
  std::string line;
  std::vector<std::string> listening;  // local addresses of LISTEN sockets on our port
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local_addr, remote_addr, state;
    fields >> slot >> local_addr >> remote_addr >> state;
    if (state == "0A" && local_addr.size() > 9 && local_addr.substr(8) == want) listening.push_back(local_addr);
  }
  EXPECT_EQ(listening, std::vector<std::string>{std::string("0100007F") + want});  // 127.0.0.1, little-endian
}

// Only the routes in status_server.h answer: every other path, method and shape of request
// gets a short error, never a file, a crash or a hang.
TEST_F(StatusServerTest, HostileRequestsGetErrorsNotFilesOrCrashes) {
  for (const char* path : {"/static/../../../../etc/passwd", "/static/.%2e/.%2e/etc/passwd", "/static/%00",
                           "/static/app.js%00.png", "/api/status/../../etc/passwd", "/.env", "/.git/config",
                           "/metrics%2f..", "/healthz/..", "/server-status", "/favicon.ico"}) {
    httplib::Client raw("127.0.0.1", server_->port());
    raw.set_url_encode(false);
    auto res = raw.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(res->body, "404 not found\n") << path;
    EXPECT_EQ(res->get_header_value("X-Content-Type-Options"), "nosniff") << path;
  }
  auto head = client_->Head("/no/such/path");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 404);
  // A query string does not open other routes, and a bad one is refused, not crashed on.
  EXPECT_EQ(get("/nope?x=/etc/passwd")->status, 404);
  EXPECT_EQ(get("/api/progress?last=99999999999999999999")->status, 400);
  EXPECT_EQ(get("/api/progress?last=-1")->status, 400);
  // A long path and a large body are refused within the server's limits.
  auto long_path = get("/" + std::string(20000, 'a'));
  ASSERT_TRUE(long_path);
  EXPECT_GE(long_path->status, 400);
  auto big = client_->Post("/api/status", std::string(1 << 20, 'x'), "text/plain");
  if (big) {
    EXPECT_GE(big->status, 400);
  }
  // Still serving afterwards.
  auto ok = get("/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

}  // namespace
}  // namespace kpipe
