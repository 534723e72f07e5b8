// A double's shortest round-trip text without the general algorithm, for the common case of a
// value with a few decimals (prices, readings: the seed's "value" has two). The CSV encoder tries
// it before Arrow's formatter (Grisu3 and its fallbacks), which took 4% of a drain's CPU.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>

namespace kpipe {

// Writes `v` at `p` and returns the end, or returns nullptr (nothing written) unless
// 0.001 <= |v| < 1e9 and `v` round-trips with at most 6 decimals.
//
// Why the text is the shortest one, the same Arrow writes (tests/unit/decimal_text_test.cc
// compares the two): below 1e9 a double's spacing is under 1.2e-7, so at most one decimal with 6
// decimals (a multiple of 1e-6) parses back to `v`; if one does, r = nearbyint(|v| * 1e6) is it,
// since the product is off by less than 0.07 from r. r / 1e6 is correctly rounded like a parser's
// result, so `r / 1e6 == |v|` is exactly "parses back to v". A decimal with fewer decimals that
// parses back to `v` is a 6-decimal one too, hence r with its trailing zeros dropped: the fewest
// decimals, i.e. the fewest significant digits, which is what shortest formatting picks. In this
// range Arrow writes plain notation, without a trailing ".0".
inline char* put_short_decimal(double v, char* p) {
  const double a = std::fabs(v);
  if (!(a >= 1e-3 && a < 1e9)) return nullptr;  // also NaN
  const double scaled = std::nearbyint(a * 1e6);
  if (scaled / 1e6 != a) return nullptr;
  uint64_t r = static_cast<uint64_t>(scaled);
  int decimals = 6;
  while (decimals > 0 && r % 10 == 0) {
    r /= 10;
    --decimals;
  }
  if (v < 0) *p++ = '-';
  char digits[20];
  const int n = static_cast<int>(std::to_chars(digits, digits + sizeof digits, r).ptr - digits);
  if (n <= decimals) {  // 0.00ddd
    *p++ = '0';
    *p++ = '.';
    for (int i = n; i < decimals; ++i) *p++ = '0';
    for (int i = 0; i < n; ++i) *p++ = digits[i];
    return p;
  }
  for (int i = 0; i < n - decimals; ++i) *p++ = digits[i];
  if (decimals == 0) return p;
  *p++ = '.';
  for (int i = n - decimals; i < n; ++i) *p++ = digits[i];
  return p;
}

}  // namespace kpipe
