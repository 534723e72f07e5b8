#include "sink/decimal_text.h"

#include <arrow/util/formatting.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

namespace kpipe {
namespace {

std::string arrow_text(double v) {
  arrow::internal::FloatToStringFormatter f;
  char buf[64];
  return std::string(buf, static_cast<size_t>(f.FormatFloat(v, buf, sizeof buf)));
}

// The fast path's text, or "" where it declines.
std::string fast_text(double v) {
  char buf[64];
  char* end = put_short_decimal(v, buf);
  return end ? std::string(buf, end) : "";
}

// Where the fast path writes, it writes what Arrow writes; returns how many it wrote.
int expect_same_as_arrow(double v) {
  const std::string fast = fast_text(v);
  if (fast.empty()) return 0;
  EXPECT_EQ(fast, arrow_text(v)) << "value bits " << std::hexfloat << v;
  return 1;
}

TEST(DecimalText, FewDecimalsAsArrowWritesThem) {
  for (double v : {0.0,         1.0,         5.0, -5.0,  53.27, 100.0, 0.05, -0.05, 0.001, 0.123456,
                   123456789.5, 999999999.0, 1.5, 10.25, 0.1,   0.2,   0.3,  2.675, 1e8,   7.000001}) {
    expect_same_as_arrow(v);
  }
  EXPECT_EQ(fast_text(53.27), "53.27");
  EXPECT_EQ(fast_text(-0.05), "-0.05");
  EXPECT_EQ(fast_text(100.0), "100");
  EXPECT_EQ(fast_text(0.001), "0.001");
  EXPECT_EQ(fast_text(123456789.5), "123456789.5");
  EXPECT_EQ(fast_text(7.000001), "7.000001");
}

TEST(DecimalText, DeclinesOutsideItsRangeAndForLongFractions) {
  for (double v : {0.0, -0.0, 0.000999, 1e9, -1e9, 1e300, 5e-324, std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), 1.0 / 3.0, 0.1 + 0.2, 2.0000001, 0.0012345}) {
    EXPECT_EQ(fast_text(v), "") << v;
  }
}

TEST(DecimalText, RandomDecimalsMatchArrow) {
  std::mt19937_64 rng(42);
  int written = 0;
  for (int decimals = 0; decimals <= 8; ++decimals) {
    const double scale = std::pow(10.0, decimals);
    for (int i = 0; i < 50'000; ++i) {
      // Integers of every size up to 1e10, then scaled down: "12.34", "0.000123", "999999999.999999".
      const double digits = static_cast<double>(rng() % 10'000'000'000ULL);
      const double v = (rng() & 1 ? 1 : -1) * digits / scale;
      written += expect_same_as_arrow(v);
    }
  }
  EXPECT_GT(written, 250'000);  // the fast path is taken for most of them
}

TEST(DecimalText, RandomBitPatternsMatchArrowWhereWritten) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> uniform(-1e9, 1e9);
  for (int i = 0; i < 200'000; ++i) {
    uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    expect_same_as_arrow(v);
    expect_same_as_arrow(uniform(rng));
    // Next to a short decimal: one ulp either side must not be written as it.
    const double d = std::round(uniform(rng) * 100) / 100;
    expect_same_as_arrow(std::nextafter(d, 1e300));
    expect_same_as_arrow(std::nextafter(d, -1e300));
  }
}

}  // namespace
}  // namespace kpipe
