#include "common/time_format.h"

#include <charconv>

namespace kpipe {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;

char* write_fixed(int64_t value, int width, char* out) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}

char* write_year(int64_t year, char* out) {
  if (year >= 0 && year <= 9999) return write_fixed(year, 4, out);
  *out++ = year < 0 ? '-' : '+';
  uint64_t magnitude = year < 0 ? 0 - static_cast<uint64_t>(year) : static_cast<uint64_t>(year);
  if (magnitude < 10000) return write_fixed(static_cast<int64_t>(magnitude), 4, out);
  return std::to_chars(out, out + 24, magnitude).ptr;
}

}  // namespace

CivilDate civil_from_days(int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = floor_div(z, 146097);
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11], March first
  CivilDate d;
  d.day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  d.month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  d.year = yoe + era * 400 + (d.month <= 2 ? 1 : 0);
  return d;
}

char* format_date(int64_t days, char* out) {
  const CivilDate d = civil_from_days(days);
  out = write_year(d.year, out);
  *out++ = '-';
  out = write_fixed(d.month, 2, out);
  *out++ = '-';
  return write_fixed(d.day, 2, out);
}

char* format_timestamp_seconds(int64_t seconds, TimestampStyle style, char* out) {
  const int64_t days = floor_div(seconds, 86'400);
  const int64_t in_day = seconds - days * 86'400;
  out = format_date(days, out);
  *out++ = style == TimestampStyle::kDisplay ? ' ' : 'T';
  out = write_fixed(in_day / 3600, 2, out);
  *out++ = ':';
  out = write_fixed(in_day / 60 % 60, 2, out);
  *out++ = ':';
  return write_fixed(in_day % 60, 2, out);
}

char* format_second_fraction(int64_t fraction, TimestampStyle style, char* out) {
  switch (style) {
    case TimestampStyle::kIsoUtc:
      *out++ = '.';
      out = fraction % 1000 == 0 ? write_fixed(fraction / 1000, 3, out) : write_fixed(fraction, 6, out);
      *out++ = 'Z';
      break;
    case TimestampStyle::kIsoUtcMillis:
      *out++ = '.';
      out = write_fixed(fraction / 1000, 3, out);
      *out++ = 'Z';
      break;
    case TimestampStyle::kDisplay:
      if (fraction != 0) {
        *out++ = '.';
        char* end = write_fixed(fraction, 6, out);
        while (end[-1] == '0') --end;
        out = end;
      }
      break;
  }
  return out;
}

SecondAndFraction split_micros(int64_t micros) {
  // Not micros - second * kMicrosPerSecond: that overflows near INT64_MIN.
  return {floor_div(micros, kMicrosPerSecond), (micros % kMicrosPerSecond + kMicrosPerSecond) % kMicrosPerSecond};
}

char* format_timestamp(int64_t micros, TimestampStyle style, char* out) {
  const SecondAndFraction t = split_micros(micros);
  return format_second_fraction(t.fraction, style, format_timestamp_seconds(t.second, style, out));
}

}  // namespace kpipe
