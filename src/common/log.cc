#include "common/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

namespace kpipe {
namespace {
std::mutex& log_mutex() {
  static std::mutex mu;
  return mu;
}

std::string& sticky() {  // guarded by log_mutex()
  static std::string line;
  return line;
}

constexpr std::string_view kClearLine = "\r\033[K";

// Called with log_mutex() held, around a log line.
void clear_sticky() {
  if (!sticky().empty()) std::fwrite(kClearLine.data(), 1, kClearLine.size(), stderr);
}
void redraw_sticky() {
  if (!sticky().empty()) std::fwrite(sticky().data(), 1, sticky().size(), stderr);
}
}  // namespace

void set_sticky_line(std::string line) {
  std::lock_guard<std::mutex> lock(log_mutex());
  clear_sticky();
  sticky() = std::move(line);
  redraw_sticky();
  std::fflush(stderr);
}

void log_line(LogLevel level, std::string_view component, std::string_view message) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];  // room for any int the compiler imagines, so -Wformat-truncation stays quiet
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  const char* lv = level == LogLevel::kInfo ? "INFO" : level == LogLevel::kWarn ? "WARN" : "ERROR";
  std::string line;
  line.reserve(64 + message.size());
  line.append(ts).append(" ").append(lv).append(" ").append(component).append(": ").append(message).append("\n");
  std::lock_guard<std::mutex> lock(log_mutex());
  clear_sticky();
  std::fwrite(line.data(), 1, line.size(), stderr);
  redraw_sticky();
  std::fflush(stderr);
}

void log_raw(std::string_view line) {
  std::lock_guard<std::mutex> lock(log_mutex());
  clear_sticky();
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  redraw_sticky();
  std::fflush(stderr);
}

void write_stdout(std::string_view text) {
  std::lock_guard<std::mutex> lock(log_mutex());
  clear_sticky();
  std::fflush(stderr);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  redraw_sticky();
  std::fflush(stderr);
}

}  // namespace kpipe
