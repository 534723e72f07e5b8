#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace kpipe {

std::string group_thousands(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string format_eta(std::optional<double> seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0) return "?";
  const auto s = static_cast<int64_t>(std::ceil(*seconds));
  char buf[48];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  }
  return buf;
}

namespace {

std::optional<double> eta_of(int64_t done, int64_t total, double rate) {
  if (total <= 0) return std::nullopt;
  if (done >= total) return 0.0;
  if (rate <= 0) return std::nullopt;
  return static_cast<double>(total - done) / rate;
}

std::string rate_text(double rate) { return group_thousands(static_cast<int64_t>(std::llround(rate))); }

}  // namespace

std::string format_progress_bar(int64_t done, int64_t total, double rate, std::string_view unit, int width) {
  const double frac = total > 0 ? std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0) : 0.0;
  const int filled = static_cast<int>(frac * width);
  std::string line = "[" + std::string(filled, '#') + std::string(width - filled, ' ') + "] ";
  line += group_thousands(done) + "/" + group_thousands(total) + " " + std::string(unit) + "  " + rate_text(rate) +
          " rec/s  ETA " + format_eta(eta_of(done, total, rate));
  return line;
}

std::string format_progress_plain(int64_t done, int64_t total, double rate, std::string_view unit) {
  char pct[16];
  std::snprintf(pct, sizeof pct, "%.1f%%",
                total > 0 ? std::min(100.0, 100.0 * static_cast<double>(done) / static_cast<double>(total)) : 0.0);
  return group_thousands(done) + "/" + group_thousands(total) + " " + std::string(unit) + " (" + pct + "), " +
         rate_text(rate) + " rec/s, ETA " + format_eta(eta_of(done, total, rate));
}

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return ::isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
}

ProgressReporter::ProgressReporter(ProgressOptions options, std::function<int64_t()> done)
    : opt_(std::move(options)), done_(std::move(done)) {}

ProgressReporter::~ProgressReporter() { finish(); }

void ProgressReporter::start() {
  started_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { loop(); });
}

void ProgressReporter::loop() {
  const auto period = opt_.terminal ? opt_.redraw : opt_.plain_every;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (cv_.wait_for(lock, period, [this] { return stopping_; })) break;
    lock.unlock();
    draw(false);
    lock.lock();
  }
}

void ProgressReporter::draw(bool final) {
  const int64_t done = done_();
  const int64_t total = std::max(total_.load(), final ? done : int64_t{0});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // The average since start: a backlog run has a steady rate, and it does not jitter the ETA.
  const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
  if (opt_.terminal) {
    const std::string bar = format_progress_bar(done, total, rate, opt_.unit);
    if (final) {
      set_sticky_line("");
      log_raw(bar);
    } else {
      set_sticky_line(bar);
    }
  } else if (total > 0 || final) {
    log_raw("progress: " + format_progress_plain(done, total, rate, opt_.unit));
  }
}

void ProgressReporter::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
    draw(true);
  }
}

}  // namespace kpipe
