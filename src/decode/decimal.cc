#include "decode/decimal.h"

#include <cstddef>

namespace kpipe {
namespace {

using UInt128 = unsigned __int128;

// Exponents beyond this are refused as malformed, as java.math.BigDecimal (Spark's parser) refuses
// a scale outside int range; within it, a value is either zero after rounding or an overflow.
constexpr int64_t kMaxExponent = 999'999'999;

UInt128 pow10(int n) {
  UInt128 p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The mantissa's digits without the point: int_part then frac_part, read by position.
struct Digits {
  std::string_view int_part;
  std::string_view frac_part;
  size_t size() const { return int_part.size() + frac_part.size(); }
  int at(size_t i) const { return (i < int_part.size() ? int_part[i] : frac_part[i - int_part.size()]) - '0'; }
};

}  // namespace

DecimalParse parse_decimal(std::string_view text, int precision, int scale, bool allow_plus, DecimalValue& out) {
  out = DecimalValue{};
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '-' || (allow_plus && text[i] == '+'))) negative = text[i++] == '-';
  Digits digits;
  size_t start = i;
  while (i < text.size() && is_digit(text[i])) ++i;
  digits.int_part = text.substr(start, i - start);
  if (i < text.size() && text[i] == '.') {
    start = ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
    digits.frac_part = text.substr(start, i - start);
  }
  if (digits.size() == 0) return DecimalParse::kMalformed;
  int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exponent_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exponent_negative = text[i++] == '-';
    if (i == text.size() || !is_digit(text[i])) return DecimalParse::kMalformed;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      exponent = exponent * 10 + (text[i] - '0');
      if (exponent > kMaxExponent) return DecimalParse::kMalformed;
    }
    if (exponent_negative) exponent = -exponent;
  }
  if (i != text.size()) return DecimalParse::kMalformed;

  // value = D * 10^(exponent - |frac|), so the unscaled result is D * 10^shift.
  size_t first = 0;  // first significant digit of D
  while (first < digits.size() && digits.at(first) == 0) ++first;
  const auto significant = static_cast<int64_t>(digits.size() - first);
  if (significant == 0) return DecimalParse::kOk;  // zero, whatever the exponent; no "-0"
  const int64_t shift = exponent - static_cast<int64_t>(digits.frac_part.size()) + scale;

  // Digits of the unscaled integer before rounding: a longer one cannot fit, even rounded.
  const int64_t kept = significant + shift;
  if (kept > precision) return DecimalParse::kOverflow;
  UInt128 unscaled = 0;
  bool round_up = false;
  if (shift >= 0) {
    for (size_t d = first; d < digits.size(); ++d) unscaled = unscaled * 10 + static_cast<unsigned>(digits.at(d));
    unscaled *= pow10(static_cast<int>(shift));
  } else {
    const size_t end = first + static_cast<size_t>(kept > 0 ? kept : 0);
    for (size_t d = first; d < end; ++d) unscaled = unscaled * 10 + static_cast<unsigned>(digits.at(d));
    // HALF_UP looks at the first dropped digit, an implicit zero when kept < 0 (0.001 → 0.00).
    round_up = kept >= 0 && digits.at(end) >= 5;
    for (size_t d = end; d < digits.size() && !out.rounded; ++d) out.rounded = digits.at(d) != 0;
  }
  if (round_up) {
    ++unscaled;
    if (unscaled == pow10(precision)) return DecimalParse::kOverflow;  // 99.995 in DECIMAL(4,2)
  }
  if (negative) unscaled = ~unscaled + 1;  // two's complement
  out.high = static_cast<int64_t>(static_cast<uint64_t>(unscaled >> 64));
  out.low = static_cast<uint64_t>(unscaled);
  return DecimalParse::kOk;
}

std::string_view format_decimal(const DecimalValue& value, int scale, char (&buffer)[48]) {
  UInt128 magnitude = (static_cast<UInt128>(static_cast<uint64_t>(value.high)) << 64) | value.low;
  const bool negative = value.high < 0;
  if (negative) magnitude = ~magnitude + 1;
  char* end = buffer + sizeof buffer;
  char* p = end;
  int written = 0;
  do {
    if (written == scale && scale > 0) *--p = '.';
    *--p = static_cast<char>('0' + static_cast<int>(magnitude % 10));
    magnitude /= 10;
    ++written;
  } while (magnitude != 0 || written <= scale);
  if (negative) *--p = '-';
  return std::string_view(p, static_cast<size_t>(end - p));
}

}  // namespace kpipe
