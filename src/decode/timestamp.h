// Hand-written ISO-8601 timestamp and date parsing for the decoder's hot path, and the UTC-date
// arithmetic behind the `dt=YYYY-MM-DD` partition folders.
//
// Pure functions: no allocation, no locale, no exceptions. Every function is total: malformed
// input gives std::nullopt, never undefined behaviour.
//
// Accepted timestamps (the UTC instant must fall in years 0001..9999, what Parquet readers,
// Spark and our 4-digit dt folder names can all represent):
//
//   2025-11-06T12:30:00Z           'T', 't' or ' ' between date and time
//   2025-11-06T12:30:00.123Z       fraction of 1..9 digits, truncated (not rounded) to micros
//   2025-11-06T12:30Z              seconds may be omitted
//   2025-11-06T12:30:00+02:00      zone: Z | z | ±HH:MM | ±HHMM | ±HH (|offset| <= 18:00)
//   2025-11-06T12:30:00            no zone means UTC (not the machine's local time zone)
//   2025-11-06                     a bare date is midnight UTC
//
// Rejected: surrounding whitespace, years that are not exactly 4 digits, impossible dates
// (2025-02-29, 2025-04-31), hour 24, minute or second 60 (leap seconds), fractions without
// digits or longer than 9 digits, anything after the zone.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kpipe {

// Micros since 1970-01-01T00:00:00Z of the first and last representable instants:
// 0001-01-01T00:00:00.000000Z and 9999-12-31T23:59:59.999999Z.
inline constexpr int64_t kMinTimestampMicros = -62135596800000000;
inline constexpr int64_t kMaxTimestampMicros = 253402300799999999;
// The same bounds in epoch milliseconds, for TIMESTAMP values given as JSON integers.
inline constexpr int64_t kMinTimestampMillis = -62135596800000;
inline constexpr int64_t kMaxTimestampMillis = 253402300799999;

// Micros since the epoch (UTC) of an ISO-8601 timestamp as described above.
std::optional<int64_t> parse_timestamp_micros(std::string_view text);

// Micros since 1970-01-01T00:00:00 of a wall-clock time without zone (TIMESTAMP_NTZ): the same
// text as parse_timestamp_micros but without a zone designator; one (even Z) gives nullopt, as
// Spark's from_json gives null for "2025-11-06T12:30:00Z" in a TIMESTAMP_NTZ field.
std::optional<int64_t> parse_timestamp_ntz_micros(std::string_view text);

// Days since 1970-01-01 of exactly "YYYY-MM-DD" (year 0001..9999, a real calendar date).
std::optional<int32_t> parse_date_days(std::string_view text);

// The UTC date (days since 1970-01-01) that contains the instant: floor division, so
// -1 micro (1969-12-31T23:59:59.999999Z) is day -1, not day 0.
int32_t days_from_micros(int64_t micros);

// Days since 1970-01-01 of a proleptic Gregorian date; no validation (see parse_date_days).
int32_t days_from_civil(int year, unsigned month, unsigned day);

}  // namespace kpipe
