// parse_decimal (exact text → unscaled Decimal128, HALF_UP as Spark) and decode_base64, alone.
#include <string>

#include <gtest/gtest.h>

#include "decode/base64.h"
#include "decode/decimal.h"

namespace kpipe {
namespace {

// The parsed value as text ("12.30"), or "malformed" / "overflow".
std::string parsed(std::string_view text, int precision, int scale, bool allow_plus = true) {
  DecimalValue value;
  switch (parse_decimal(text, precision, scale, allow_plus, value)) {
    case DecimalParse::kMalformed: return "malformed";
    case DecimalParse::kOverflow: return "overflow";
    case DecimalParse::kOk: break;
  }
  char buffer[48];
  return std::string(format_decimal(value, scale, buffer)) + (value.rounded ? " rounded" : "");
}

TEST(ParseDecimal, ExactWithoutDoubleRounding) {
  EXPECT_EQ(parsed("12.30", 10, 2), "12.30");
  EXPECT_EQ(parsed("0.1", 10, 2), "0.10");
  EXPECT_EQ(parsed("0.3", 38, 37), "0." + std::string("3") + std::string(36, '0'));
  EXPECT_EQ(parsed("-0", 10, 2), "0.00");
  EXPECT_EQ(parsed("000", 3, 0), "0");
  EXPECT_EQ(parsed("00012.3", 5, 1), "12.3");
  EXPECT_EQ(parsed("0e999999999", 5, 1), "0.0");
}

TEST(ParseDecimal, ExponentForms) {
  EXPECT_EQ(parsed("1.23E+2", 10, 2), "123.00");
  EXPECT_EQ(parsed("1.23e2", 10, 2), "123.00");
  EXPECT_EQ(parsed("123E-2", 10, 2), "1.23");
  EXPECT_EQ(parsed("1.5E+4", 5, 0), "15000");
  EXPECT_EQ(parsed("1E37", 38, 0), "1" + std::string(37, '0'));
  EXPECT_EQ(parsed("1E38", 38, 0), "overflow");
  EXPECT_EQ(parsed("1e999999999", 38, 0), "overflow");
  EXPECT_EQ(parsed("1e-999999999", 38, 2), "0.00 rounded");
  EXPECT_EQ(parsed("1e9999999999", 38, 0), "malformed");  // beyond Java's BigDecimal too
}

TEST(ParseDecimal, RoundsHalfUpAwayFromZero) {
  EXPECT_EQ(parsed("12.345", 10, 2), "12.35 rounded");
  EXPECT_EQ(parsed("12.344999", 10, 2), "12.34 rounded");
  EXPECT_EQ(parsed("-12.345", 10, 2), "-12.35 rounded");
  EXPECT_EQ(parsed("2.5", 1, 0), "3 rounded");
  EXPECT_EQ(parsed("-2.5", 1, 0), "-3 rounded");
  EXPECT_EQ(parsed("0.005", 3, 2), "0.01 rounded");
  EXPECT_EQ(parsed("0.0049", 3, 2), "0.00 rounded");
  EXPECT_EQ(parsed("12.3400", 10, 2), "12.34");  // zeros dropped are not a rounding
  EXPECT_EQ(parsed("99.995", 4, 2), "overflow");
  EXPECT_EQ(parsed("99.994", 4, 2), "99.99 rounded");
}

TEST(ParseDecimal, EdgesOfPrecision) {
  const std::string nines(38, '9');
  EXPECT_EQ(parsed(nines, 38, 0), nines);
  EXPECT_EQ(parsed("-" + nines, 38, 0), "-" + nines);
  EXPECT_EQ(parsed(nines + "9", 38, 0), "overflow");
  EXPECT_EQ(parsed(nines + ".4", 38, 0), nines + " rounded");
  EXPECT_EQ(parsed(nines + ".5", 38, 0), "overflow");
  EXPECT_EQ(parsed("0." + nines, 38, 38), "0." + nines);
  EXPECT_EQ(parsed("-0." + nines + "9", 38, 38), "overflow");
  EXPECT_EQ(parsed("1", 38, 38), "overflow");
  EXPECT_EQ(parsed("12345678.12", 10, 2), "12345678.12");
  EXPECT_EQ(parsed("123456789.12", 10, 2), "overflow");
  // Leading zeros do not count; a long tail of digits past the scale is one rounding.
  EXPECT_EQ(parsed(std::string(100, '0') + "1.5", 2, 1), "1.5");
  EXPECT_EQ(parsed("1." + std::string(1000, '4'), 2, 1), "1.4 rounded");
}

TEST(ParseDecimal, MalformedText) {
  for (const char* text : {"", "-", "+", ".", "e5", "1e", "1e+", "1.5.5", " 1", "1 ", "0x10", "NaN", "Infinity",
                           "1,000", "--1", "1.5d", "١٢"}) {
    EXPECT_EQ(parsed(text, 10, 2), "malformed") << text;
  }
  EXPECT_EQ(parsed("+1.5", 10, 2, false), "malformed");
  EXPECT_EQ(parsed("+1.5", 10, 2, true), "1.50");
  EXPECT_EQ(parsed(".5", 10, 2), "0.50");
  EXPECT_EQ(parsed("5.", 10, 2), "5.00");
}

std::string base64(std::string_view text) {
  char out[256];
  size_t error_at = 0;
  const long n = decode_base64(text, out, error_at);
  return n < 0 ? "error at " + std::to_string(error_at) : std::string(out, static_cast<size_t>(n));
}

TEST(DecodeBase64, StandardAlphabetWithPaddingAsJackson) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("aGVsbG8="), "hello");
  EXPECT_EQ(base64("aGVsbA=="), "hell");
  EXPECT_EQ(base64("aGVs"), "hel");
  EXPECT_EQ(base64("+/8="), "\xfb\xff");
  EXPECT_EQ(base64(" aGk=\n aGk=\t"), "hihi");
  EXPECT_EQ(base64("YQ==YQ=="), "aa");
  EXPECT_EQ(base64("aGVsbG8"), "error at 7");
  EXPECT_EQ(base64("aGVsbA="), "error at 7");
  EXPECT_EQ(base64("aG Vs"), "error at 2");
  EXPECT_EQ(base64("a-_b"), "error at 1");
  EXPECT_EQ(base64("aGk==="), "error at 4");
  EXPECT_EQ(base64("a==="), "error at 1");
  EXPECT_EQ(base64("aGk=="), "error at 4");
  EXPECT_EQ(base64("=aGk"), "error at 0");
}

}  // namespace
}  // namespace kpipe
