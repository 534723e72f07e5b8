// Progress of a long run (`kpipe stream --once` over a backlog, `kpipe produce --count N`) on
// stderr. On a terminal, one line redrawn in place a few times a second:
//
//   [#####     ] 1,234,000/5,000,000 records  412,000 rec/s  ETA 9s
//
// and a newline when done; log lines written meanwhile go above it (log.h's sticky line). When
// stderr is not a terminal (a file, a CI log), a plain line every few seconds and a final one:
//
//   progress: 1,234,000/5,000,000 records (24.7%), 412,000 rec/s, ETA 9s
//
// The count is polled by a timer thread from a function the caller gives (an atomic counter, a
// producer's delivered count): nothing is done per record.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace kpipe {

// "1,234,000"
std::string group_thousands(int64_t n);
// "9s", "4m05s", "2h13m"; "?" when unknown (no rate yet).
std::string format_eta(std::optional<double> seconds);
// The terminal form, `width` cells of bar. total <= 0 draws an empty bar.
std::string format_progress_bar(int64_t done, int64_t total, double rate, std::string_view unit, int width = 10);
// The plain-line form (without the "progress: " prefix).
std::string format_progress_plain(int64_t done, int64_t total, double rate, std::string_view unit);

struct ProgressOptions {
  std::string unit = "records";
  bool terminal = false;                        // draw the bar (else plain lines)
  std::chrono::milliseconds redraw{200};        // terminal: redraw period
  std::chrono::milliseconds plain_every{5000};  // not a terminal: one line this often
};

class ProgressReporter {
 public:
  // `done` is called from the reporter's thread; it must be cheap and thread-safe.
  ProgressReporter(ProgressOptions options, std::function<int64_t()> done);
  ~ProgressReporter();  // finish()es
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // The total may be known after start (stream --once learns it from the first watermarks).
  void set_total(int64_t total) { total_.store(total); }
  void start();
  // The last line (bar at its final state and a newline, or a final plain line); idempotent.
  void finish();

 private:
  void loop();
  void draw(bool final);

  ProgressOptions opt_;
  std::function<int64_t()> done_;
  std::atomic<int64_t> total_{0};
  std::chrono::steady_clock::time_point started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool finished_ = false;
  std::thread thread_;
};

// True when stderr is a terminal (isatty), and TERM is not "dumb".
bool stderr_is_terminal();

}  // namespace kpipe
