// Calendar arithmetic and the text forms of dates and timestamps that the sinks and the Delta
// log write. Pure functions in common, so neither stage depends on the other; the formatters
// write into a caller's buffer so the CSV encoder formats millions of timestamps without an
// allocation per value.
#pragma once

#include <cstdint>

namespace kpipe {

// a / b rounded towards minus infinity (C++ division truncates towards zero).
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

struct CivilDate {
  int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};

// Proleptic Gregorian date of `days` since 1970-01-01 (Howard Hinnant's civil_from_days).
CivilDate civil_from_days(int64_t days);

// Longest text any formatter below writes, plus room to spare.
inline constexpr int kMaxTimeText = 48;

// "YYYY-MM-DD"; years outside 0..9999 as ISO 8601 expanded years ("+10000", "-0001").
// Returns the end of the text; does not write a terminating NUL.
char* format_date(int64_t days, char* out);

enum class TimestampStyle {
  // ISO 8601 UTC as Spark's CSV writer: "2025-11-06T12:30:00.123Z", or ".123456Z" when the
  // value has sub-millisecond digits, so no precision of a microsecond timestamp is lost.
  kIsoUtc,
  // ISO 8601 UTC, always milliseconds: "2025-11-06T12:30:00.123Z" (Kafka timestamps).
  kIsoUtcMillis,
  // As Spark's show() prints a timestamp: "2025-11-06 12:30:00.123", trailing zeros of the
  // fraction dropped, no fraction at all when it is zero.
  kDisplay,
};

// Formats microseconds since the epoch (UTC). Floors towards minus infinity, so pre-1970
// values keep a positive fraction: -1 us is "1969-12-31T23:59:59.999999Z".
char* format_timestamp(int64_t micros, TimestampStyle style, char* out);

// format_timestamp in two steps, for a caller that reuses a second's text across many values:
// split_micros(micros), then format_timestamp_seconds(its second) writes "2025-11-06T12:30:00" (or
// "2025-11-06 12:30:00" for kDisplay), then format_second_fraction(the microseconds into that
// second, 0..999,999) writes the rest: ".123Z", ".123456Z", or for kDisplay ".123" or nothing.
struct SecondAndFraction {
  int64_t second;    // floor(micros / 1,000,000)
  int64_t fraction;  // the microseconds into that second, 0..999,999
};
SecondAndFraction split_micros(int64_t micros);
char* format_timestamp_seconds(int64_t seconds, TimestampStyle style, char* out);
char* format_second_fraction(int64_t fraction, TimestampStyle style, char* out);

}  // namespace kpipe
