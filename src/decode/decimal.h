// Exact decimal text → the unscaled 128-bit integer of a DECIMAL(precision, scale), for the
// decoder's hot path. Never goes through a double: "12.30" at scale 2 is exactly 1230, and
// 0.1 + 0.2 style binary rounding cannot happen.
//
// Pure functions: no allocation, no locale, no exceptions; any input gives a result.
#pragma once

#include <cstdint>
#include <string_view>

namespace kpipe {

enum class DecimalParse : uint8_t {
  kOk,         // fits; `rounded` says whether digits past the scale were dropped
  kMalformed,  // not decimal text
  kOverflow,   // more integer digits than precision - scale allows (after rounding)
};

struct DecimalValue {
  // The value times 10^scale, as two's complement halves (arrow::Decimal128(high, low)).
  int64_t high = 0;
  uint64_t low = 0;
  bool rounded = false;  // nonzero digits past the scale were rounded away (HALF_UP)
};

// Parses `text` as  [+-]? digits [. digits]? ([eE] [+-]? digits)?  (at least one digit before or
// after the point: "5.", ".5" and "1.23E+2" are accepted; no spaces, no thousands separators,
// no NaN/Infinity) and scales it to `scale` (0 <= scale <= precision <= 38), rounding the digits
// past the scale HALF_UP (away from zero on a tie), as Spark's Decimal.set does. `allow_plus`
// allows a leading '+' (JSON strings), which the JSON number grammar does not have.
DecimalParse parse_decimal(std::string_view text, int precision, int scale, bool allow_plus, DecimalValue& out);

// The DECIMAL's unscaled value as text with its point ("-12.30" for -1230 at scale 2), for tests
// and messages.
std::string_view format_decimal(const DecimalValue& value, int scale, char (&buffer)[48]);

}  // namespace kpipe
