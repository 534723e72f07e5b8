// Start-up, batch and error logging to stderr, one line each, with a UTC timestamp and the
// component. Never called per record.
#pragma once

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

}  // namespace kpipe
