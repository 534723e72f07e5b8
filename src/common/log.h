// Start-up, batch and error logging to stderr, one line each, with a UTC timestamp and the
// component. Never called per record.
#pragma once

#include <string>
#include <string_view>

namespace kpipe {

enum class LogLevel { kInfo, kWarn, kError };

void log_line(LogLevel level, std::string_view component, std::string_view message);
inline void log_info(std::string_view component, std::string_view message) {
  log_line(LogLevel::kInfo, component, message);
}
inline void log_warn(std::string_view component, std::string_view message) {
  log_line(LogLevel::kWarn, component, message);
}
inline void log_error(std::string_view component, std::string_view message) {
  log_line(LogLevel::kError, component, message);
}
// Writes `line` and a newline to stderr as is (progress JSON lines), atomically with other log lines.
void log_raw(std::string_view line);
// A line kept at the bottom of a terminal (a progress bar): drawn now with \r, without a newline,
// cleared before each log line and drawn again after it. "" removes it (the line is cleared).
void set_sticky_line(std::string line);
// Writes `text` to stdout as is (the console sink's tables), with the sticky line cleared before
// and drawn after, so a terminal that shows both streams keeps the bar at the bottom.
void write_stdout(std::string_view text);

}  // namespace kpipe
