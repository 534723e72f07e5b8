#include "decode/timestamp.h"

#include <cstddef>
#include <cstring>

namespace kpipe {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerDay = 86'400 * kMicrosPerSecond;

// Reads exactly `count` ASCII digits at `pos`; the bounds check is the caller's contract
// (`pos + count <= text.size()`), kept out of here so each field is one branch.
bool read_digits(std::string_view text, size_t pos, size_t count, int& value) {
  int v = 0;
  for (size_t i = 0; i < count; ++i) {
    const unsigned d = static_cast<unsigned char>(text[pos + i]) - unsigned{'0'};
    if (d > 9) return false;
    v = v * 10 + static_cast<int>(d);
  }
  value = v;
  return true;
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned days_in_month(int year, unsigned month) {
  static constexpr unsigned char kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

// "YYYY-MM-DD" at the start of `text` (which is at least 10 chars) → days since the epoch.
std::optional<int32_t> parse_date_prefix(std::string_view text) {
  int year = 0, month = 0, day = 0;
  if (!read_digits(text, 0, 4, year) || text[4] != '-' || !read_digits(text, 5, 2, month) || text[7] != '-' ||
      !read_digits(text, 8, 2, day)) {
    return std::nullopt;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  return days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

// Zone designator from `pos` to the end of `text` → offset east of UTC in seconds.
std::optional<int> parse_zone(std::string_view text, size_t pos) {
  const size_t rest = text.size() - pos;
  if (rest == 0) return 0;
  const char sign = text[pos];
  if (sign == 'Z' || sign == 'z') return rest == 1 ? std::optional<int>(0) : std::nullopt;
  if (sign != '+' && sign != '-') return std::nullopt;
  int hours = 0, minutes = 0;
  if (rest < 3 || !read_digits(text, pos + 1, 2, hours)) return std::nullopt;
  if (rest == 3) {
    // ±HH
  } else if (rest == 5) {
    if (!read_digits(text, pos + 3, 2, minutes)) return std::nullopt;  // ±HHMM
  } else if (rest == 6) {
    if (text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, minutes)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  // ±18:00 is the widest offset java.time (and so Spark) accepts.
  if (minutes > 59 || hours * 60 + minutes > 18 * 60) return std::nullopt;
  const int seconds = hours * 3600 + minutes * 60;
  return sign == '-' ? -seconds : seconds;
}

}  // namespace

int32_t days_from_civil(int year, unsigned month, unsigned day) {
  // Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar, no tables.
  year -= month <= 2;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int32_t>(doe) - 719468;
}

namespace {

// "YYYY-MM-DDTHH:MM" at the start of `text` (at least 16 chars) → seconds since the epoch.
std::optional<int64_t> parse_minute(std::string_view text) {
  // The last minute parsed on this thread: a topic's events mostly come in time order, so most
  // records repeat it and skip the calendar arithmetic (about 5 % of decoding the seed's events).
  struct LastMinute {
    char text[16];
    int64_t seconds = 0;
    bool valid = false;
  };
  thread_local LastMinute last;
  if (last.valid && std::memcmp(text.data(), last.text, sizeof last.text) == 0) return last.seconds;

  const std::optional<int32_t> days = parse_date_prefix(text);
  if (!days) return std::nullopt;
  const char separator = text[10];
  if (separator != 'T' && separator != 't' && separator != ' ') return std::nullopt;
  int hour = 0, minute = 0;
  if (!read_digits(text, 11, 2, hour) || text[13] != ':' || !read_digits(text, 14, 2, minute)) return std::nullopt;
  if (hour > 23 || minute > 59) return std::nullopt;
  const int64_t seconds = int64_t{*days} * 86'400 + hour * 3600 + minute * 60;
  std::memcpy(last.text, text.data(), sizeof last.text);
  last.seconds = seconds;
  last.valid = true;
  return seconds;
}

// The date and time of `text` as micros since the epoch of that wall-clock time, and in `pos`
// where a zone designator would start.
std::optional<int64_t> parse_local_micros(std::string_view text, size_t& pos) {
  if (text.size() < 16) {
    if (text.size() != 10) return std::nullopt;
    const std::optional<int32_t> days = parse_date_prefix(text);
    if (!days) return std::nullopt;
    pos = 10;
    return int64_t{*days} * kMicrosPerDay;
  }
  const std::optional<int64_t> minute = parse_minute(text);
  if (!minute) return std::nullopt;
  pos = 16;
  int second = 0;
  if (pos < text.size() && text[pos] == ':') {
    if (text.size() < pos + 3 || !read_digits(text, pos + 1, 2, second)) return std::nullopt;
    pos += 3;
  }
  if (second > 59) return std::nullopt;

  int64_t fraction_micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t digits = 0;
    int64_t value = 0;
    while (pos < text.size()) {
      const unsigned d = static_cast<unsigned char>(text[pos]) - unsigned{'0'};
      if (d > 9) break;
      if (digits < 6) value = value * 10 + d;  // digits past micros are truncated
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return std::nullopt;
    for (size_t i = digits; i < 6; ++i) value *= 10;
    fraction_micros = value;
  }
  return (*minute + second) * kMicrosPerSecond + fraction_micros;
}

}  // namespace

std::optional<int64_t> parse_timestamp_micros(std::string_view text) {
  size_t pos = 0;
  const std::optional<int64_t> local = parse_local_micros(text, pos);
  if (!local) return std::nullopt;
  const std::optional<int> offset = parse_zone(text, pos);
  if (!offset) return std::nullopt;
  const int64_t micros = *local - int64_t{*offset} * kMicrosPerSecond;
  // The offset can move a valid local time out of range: 0001-01-01T00:00+01:00 is year 0 in UTC.
  if (micros < kMinTimestampMicros || micros > kMaxTimestampMicros) return std::nullopt;
  return micros;
}

std::optional<int64_t> parse_timestamp_ntz_micros(std::string_view text) {
  size_t pos = 0;
  const std::optional<int64_t> local = parse_local_micros(text, pos);
  if (!local || pos != text.size()) return std::nullopt;
  return local;
}

std::optional<int32_t> parse_date_days(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  return parse_date_prefix(text);
}

int32_t days_from_micros(int64_t micros) {
  int64_t days = micros / kMicrosPerDay;
  if (micros % kMicrosPerDay < 0) --days;
  return static_cast<int32_t>(days);
}

}  // namespace kpipe
