#include "status/status_server.h"

#include "common/time_util.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <thread>

#include "status/prometheus.h"
#include "status/status_json.h"
#include "status/web_assets.h"

namespace kpipe {
namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
constexpr size_t kDefaultProgress = 100;
constexpr size_t kMaxProgress = 100000;
// Few workers: the page polls twice a second and a scraper once in a while.
constexpr size_t kWorkerThreads = 4;
// Lag is sampled here, not by the job, so a page opened late still shows its recent history.
constexpr auto kLagSampleEvery = std::chrono::seconds(1);
constexpr size_t kLagSamples = 300;

void send(httplib::Response& res, int code, std::string body, const char* type) {
  res.status = code;
  res.set_header("Cache-Control", "no-store");
  res.set_content(std::move(body), type);
}

// Headers every response carries; the page loads nothing from elsewhere, so say so.
void common_headers(httplib::Response& res) {
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
}

void serve_asset(const httplib::Request& req, httplib::Response& res, const WebAsset& a) {
  res.set_header("ETag", std::string(a.etag));
  // Revalidate every time: a rebuilt binary must not be shadowed by a cached app.js.
  res.set_header("Cache-Control", "no-cache");
  if (req.get_header_value("If-None-Match") == a.etag) {
    res.status = 304;
    return;
  }
  res.status = 200;
  res.set_content(a.body.data(), a.body.size(), std::string(a.content_type).c_str());
}

// ?last=N → N; nullopt when present but not a whole number in [0, kMaxProgress].
std::optional<size_t> parse_last(const httplib::Request& req) {
  if (!req.has_param("last")) return kDefaultProgress;
  std::string v = req.get_param_value("last");
  size_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size() || n > kMaxProgress) return std::nullopt;
  return n;
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view addr, std::string_view setting) {
  auto bad = [&](const std::string& why) {
    return Status::fatal(std::string(setting) + "='" + std::string(addr) + "': " + why +
                         " (expected HOST:PORT such as 127.0.0.1:8080, :8080 for every interface, or off)");
  };
  size_t colon = addr.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = addr.substr(0, colon);
  std::string_view port_text = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 host needs brackets, as in [::1]:8080");
  }
  int port = -1;
  auto r = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || r.ec != std::errc() || r.ptr != port_text.data() + port_text.size() || port < 0 ||
      port > 65535) {
    return bad("the port must be a number from 0 to 65535 (0 picks a free port)");
  }
  ListenAddress out;
  out.host = host.empty() ? "0.0.0.0" : std::string(host);
  out.port = port;
  return out;
}

class StatusServer::Impl {
 public:
  Impl(ListenAddress addr, std::shared_ptr<JobStatus> status, MetricsRenderer render, StatusInfo info)
      : addr_(std::move(addr)), status_(std::move(status)), render_(std::move(render)), info_(std::move(info)) {}

  ~Impl() { stop(); }

  Status start(const std::string& text_addr) {
    configure();
    if (status_) add_job_routes();
    add_common_routes();
    errno = 0;
    if (addr_.port == 0) {
      port_ = server_.bind_to_any_port(addr_.host);
    } else {
      port_ = server_.bind_to_port(addr_.host, addr_.port) ? addr_.port : -1;
    }
    if (port_ < 0) {
      int err = errno;
      return Status::fatal(info_.address_setting + "=" + text_addr + ": cannot listen on " + addr_.host + " port " +
                           std::to_string(addr_.port) + (err ? std::string(" (") + std::strerror(err) + ")" : "") +
                           "; choose a free port (0 picks one), another address, or " + info_.address_setting + "=off");
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    if (status_) {
      // The first sample is taken before start() returns, so a request right after it sees one.
      take_lag_sample();
      sampler_ = std::thread([this] { sample_lag(); });
    }
    // stop() only reaches a server that is running: wait for the accept loop before returning.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!server_.is_running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!server_.is_running()) {
      stop();
      return Status::fatal(info_.address_setting + "=" + text_addr + ": the HTTP server did not start");
    }
    return Status::success();
  }

  void stop() {
    std::lock_guard<std::mutex> lock(stop_mu_);
    {
      std::lock_guard<std::mutex> hist_lock(lag_mu_);
      stopping_ = true;
    }
    lag_cv_.notify_all();
    if (sampler_.joinable()) sampler_.join();
    if (!thread_.joinable()) return;
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  const ListenAddress& address() const { return addr_; }

 private:
  void configure() {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
    // One request per connection ("Connection: close"): the page polls once a second, which
    // would race with any idle keep-alive timeout near a second, and no idle connection then
    // delays stop(). A client that stops sending holds a worker until the read timeout.
    // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let a second kpipe
    // bind the same port and silently split the requests between the two processes.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_.set_keep_alive_timeout(1);
    server_.set_keep_alive_max_count(1);
    server_.set_read_timeout(1, 0);
    server_.set_write_timeout(1, 0);
    server_.set_payload_max_length(64 * 1024);
    server_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      }
      send(res, 500, what + "\n", kText);
    });
    server_.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
      common_headers(res);
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      res.set_content(std::to_string(res.status) + (res.status == 404 ? " not found\n" : " error\n"), kText);
      return httplib::Server::HandlerResponse::Handled;
    }));
    auto not_allowed = [](const httplib::Request&, httplib::Response& res) {
      res.set_header("Allow", "GET, HEAD");
      send(res, 405, "405 method not allowed: this server only answers GET and HEAD\n", kText);
    };
    server_.Post(".*", not_allowed);
    server_.Put(".*", not_allowed);
    server_.Patch(".*", not_allowed);
    server_.Delete(".*", not_allowed);
    server_.Options(".*", not_allowed);
  }

  void add_job_routes() {
    server_.Get("/", [](const httplib::Request& req, httplib::Response& res) {
      common_headers(res);
      serve_asset(req, res, *find_web_asset("index.html"));
    });
    server_.Get(R"(/static/([A-Za-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
      common_headers(res);
      const WebAsset* a = find_web_asset(req.matches[1].str());
      if (a == nullptr || a->name == "index.html") {
        res.status = 404;
        return;
      }
      serve_asset(req, res, *a);
    });
    server_.Get("/api/status", [this](const httplib::Request& req, httplib::Response& res) {
      StatusSnapshot s = status_->snapshot();
      if (req.get_param_value("lagHistory") == "1") {
        std::vector<LagSample> history = lag_history();
        send(res, 200, status_json(s, info_, wall_clock_ms(), &history), kJson);
      } else {
        send(res, 200, status_json(s, info_, wall_clock_ms()), kJson);
      }
    });
    server_.Get("/api/progress", [this](const httplib::Request& req, httplib::Response& res) {
      auto n = parse_last(req);
      if (!n) {
        send(res, 400, "last must be a whole number from 0 to " + std::to_string(kMaxProgress) + "\n", kText);
        return;
      }
      std::vector<BatchProgress> batches = status_->last(*n);
      std::string query_id = status_->snapshot().query_id;
      send(res, 200, progress_array_json(batches, query_id), kJson);
    });
    render_ = [this] { return render_job_metrics(status_->snapshot(), info_, wall_clock_ms()); };
  }

  void add_common_routes() {
    server_.Get("/metrics",
                [this](const httplib::Request&, httplib::Response& res) { send(res, 200, render_(), kPrometheus); });
    server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
      if (!status_) {
        send(res, 200, "ok\n", kText);
        return;
      }
      StatusSnapshot s = status_->snapshot();
      const bool healthy = is_healthy(s.state);
      if (healthy) {
        send(res, 200, "ok\n", kText);
      } else {
        send(res, 503,
             std::string(job_state_name(s.state)) + (s.state_detail.empty() ? "" : ": " + s.state_detail) + "\n",
             kText);
      }
    });
  }

  void take_lag_sample() {
    LagSample sample{wall_clock_ms(), status_->snapshot().lag};
    if (sample.lag.empty()) return;
    std::lock_guard<std::mutex> lock(lag_mu_);
    lag_samples_.push_back(std::move(sample));
    if (lag_samples_.size() > kLagSamples) lag_samples_.pop_front();
  }

  void sample_lag() {
    std::unique_lock<std::mutex> lock(lag_mu_);
    while (!lag_cv_.wait_for(lock, kLagSampleEvery, [this] { return stopping_; })) {
      lock.unlock();
      take_lag_sample();
      lock.lock();
    }
  }

  std::vector<LagSample> lag_history() {
    std::lock_guard<std::mutex> lock(lag_mu_);
    return std::vector<LagSample>(lag_samples_.begin(), lag_samples_.end());
  }

  ListenAddress addr_;
  std::shared_ptr<JobStatus> status_;
  MetricsRenderer render_;
  StatusInfo info_;
  httplib::Server server_;
  std::thread thread_;
  std::thread sampler_;
  std::mutex lag_mu_;
  std::condition_variable lag_cv_;
  bool stopping_ = false;
  std::deque<LagSample> lag_samples_;
  std::mutex stop_mu_;
  int port_ = -1;
};

StatusServer::StatusServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StatusServer::~StatusServer() = default;

Result<std::unique_ptr<StatusServer>> StatusServer::start(const std::string& addr, std::shared_ptr<JobStatus> status,
                                                          StatusInfo info) {
  KPIPE_ASSIGN_OR_RETURN(ListenAddress a, parse_listen_address(addr, info.address_setting));
  auto impl = std::make_unique<Impl>(std::move(a), std::move(status), nullptr, std::move(info));
  KPIPE_RETURN_IF_ERROR(impl->start(addr));
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

Result<std::unique_ptr<StatusServer>> StatusServer::start_metrics_only(const std::string& addr, MetricsRenderer render,
                                                                       StatusInfo info) {
  KPIPE_ASSIGN_OR_RETURN(ListenAddress a, parse_listen_address(addr, info.address_setting));
  auto impl = std::make_unique<Impl>(std::move(a), nullptr, std::move(render), std::move(info));
  KPIPE_RETURN_IF_ERROR(impl->start(addr));
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(impl)));
}

void StatusServer::stop() { impl_->stop(); }

int StatusServer::port() const { return impl_->port(); }

std::string StatusServer::url() const {
  std::string host = impl_->address().host;
  if (host == "0.0.0.0" || host == "::") host = "localhost";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port()) + "/";
}

}  // namespace kpipe
