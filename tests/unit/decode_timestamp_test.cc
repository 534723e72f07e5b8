#include "common/time_format.h"
#include "decode/timestamp.h"

#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace kpipe {
namespace {

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
// 2025-11-06T12:30:00Z, from Python's datetime.
constexpr int64_t kNov6At1230 = 1762432200000000;

std::string date_text(int32_t days) {
  char out[16];
  return std::string(out, format_date(days, out));
}

TEST(ParseTimestamp, UtcWithZ) {
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00Z"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06t12:30:00z"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("1970-01-01T00:00:00Z"), 0);
}

TEST(ParseTimestampNtz, LocalTimeWithoutZone) {
  EXPECT_EQ(parse_timestamp_ntz_micros("2025-11-06T12:30:00"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_ntz_micros("2025-11-06 12:30"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_ntz_micros("2025-11-06T12:30:00.123456789"), kNov6At1230 + 123456);
  EXPECT_EQ(parse_timestamp_ntz_micros("2025-11-06"), kNov6At1230 - 12 * kHour - 30 * kMinute);
  EXPECT_EQ(parse_timestamp_ntz_micros("0001-01-01T00:00:00"), kMinTimestampMicros);
  EXPECT_EQ(parse_timestamp_ntz_micros("9999-12-31T23:59:59.999999"), kMaxTimestampMicros);
  // A zone, even Z, is not a local time; the rest is parse_timestamp_micros' grammar.
  for (const char* text : {"2025-11-06T12:30:00Z", "2025-11-06T12:30:00+00:00", "2025-11-06T12:30:00-0200",
                           "2025-11-06T24:00:00", "2025-11-06T12:30:00.", "2025-11-06 ", "10000-01-01T00:00:00"}) {
    EXPECT_EQ(parse_timestamp_ntz_micros(text), std::nullopt) << text;
  }
  // parse_timestamp_micros is unchanged by sharing its date-time reader.
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T14:30:00+02:00"), kNov6At1230);
}

TEST(ParseTimestamp, FractionIsTruncatedToMicros) {
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.123Z"), kNov6At1230 + 123000);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.1Z"), kNov6At1230 + 100000);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.123456Z"), kNov6At1230 + 123456);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.1234567Z"), kNov6At1230 + 123456);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.999999999Z"), kNov6At1230 + 999999);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.000000001Z"), kNov6At1230);
}

TEST(ParseTimestamp, FractionMustHaveOneToNineDigits) {
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.1234567890Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00,123Z"), std::nullopt);
}

TEST(ParseTimestamp, Offsets) {
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T14:30:00+02:00"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T14:30:00+0200"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T14:30:00+02"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T07:00:00-05:30"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T07:00:00-0530"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00-00:00"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00.123+01:00"), kNov6At1230 - kHour + 123000);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00+18:00"), kNov6At1230 - 18 * kHour);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00-18:00"), kNov6At1230 + 18 * kHour);
}

TEST(ParseTimestamp, BadOffsets) {
  for (const char* text :
       {"2025-11-06T12:30:00+18:01", "2025-11-06T12:30:00+19", "2025-11-06T12:30:00+2:00", "2025-11-06T12:30:00+02:60",
        "2025-11-06T12:30:00+", "2025-11-06T12:30:00+02:0", "2025-11-06T12:30:00+02:000", "2025-11-06T12:30:00 +02:00",
        "2025-11-06T12:30:00Z+01", "2025-11-06T12:30:00ZZ", "2025-11-06T12:30:00UTC", "2025-11-06T12:30:00+02-00"}) {
    EXPECT_EQ(parse_timestamp_micros(text), std::nullopt) << text;
  }
}

TEST(ParseTimestamp, SeparatorsAndOptionalParts) {
  EXPECT_EQ(parse_timestamp_micros("2025-11-06 12:30:00Z"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06 12:30:00.123"), kNov6At1230 + 123000);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30Z"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00"), kNov6At1230) << "no zone means UTC";
  EXPECT_EQ(parse_timestamp_micros("2025-11-06"), kNov6At1230 - 12 * kHour - 30 * kMinute)
      << "a bare date is midnight UTC";
}

TEST(ParseTimestamp, LeapYears) {
  EXPECT_EQ(parse_timestamp_micros("2024-02-29T00:00:00Z"), 1709164800000000);
  EXPECT_TRUE(parse_timestamp_micros("2000-02-29T00:00:00Z").has_value());
  EXPECT_EQ(parse_timestamp_micros("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("1900-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("2024-02-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("2025-04-31T00:00:00Z"), std::nullopt);
}

TEST(ParseTimestamp, Before1970) {
  EXPECT_EQ(parse_timestamp_micros("1969-12-31T23:59:59.999999Z"), -1);
  EXPECT_EQ(parse_timestamp_micros("1900-01-01T00:00:00Z"), -2208988800000000);
  EXPECT_EQ(parse_timestamp_micros("1969-07-20T20:17:40Z"), -14182940000000);
}

TEST(ParseTimestamp, YearBounds) {
  EXPECT_EQ(parse_timestamp_micros("0001-01-01T00:00:00Z"), kMinTimestampMicros);
  EXPECT_EQ(parse_timestamp_micros("9999-12-31T23:59:59.999999Z"), kMaxTimestampMicros);
  EXPECT_EQ(parse_timestamp_micros("9999-12-31T23:59:59.999999999Z"), kMaxTimestampMicros);
  EXPECT_EQ(parse_timestamp_micros("0000-12-31T23:59:59Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("99999-01-01T00:00:00Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("10000-01-01T00:00:00Z"), std::nullopt);
  // In range as written, out of range once the offset is applied.
  EXPECT_EQ(parse_timestamp_micros("0001-01-01T00:00:00+00:01"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("9999-12-31T23:59:59-00:01"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("9999-12-31T23:00:00+01:00"), kMaxTimestampMicros - kHour + 1 - kHour);
}

TEST(ParseTimestamp, RejectsGarbage) {
  for (const char* text : {"",
                           "yesterday",
                           "2025",
                           "2025-11-0",
                           "2025-11-06T",
                           "2025-11-06T12",
                           "2025-11-06T12:3",
                           "2025-11-06T12:30:0",
                           "2025-11-06T24:00:00Z",
                           "2025-11-06T25:00:00Z",
                           "2025-11-06T12:60:00Z",
                           "2025-11-06T12:30:60Z",
                           "2025-13-01T00:00:00Z",
                           "2025-00-10T00:00:00Z",
                           "2025-11-00T00:00:00Z",
                           " 2025-11-06T12:30:00Z",
                           "2025-11-06T12:30:00Z ",
                           "2025/11/06T12:30:00Z",
                           "+2025-11-06T12:30:00Z",
                           "-2025-11-06T12:30:00Z",
                           "2025-1-06T12:30:00Z",
                           "2025-11-06X12:30:00Z",
                           "2025-11-06T12-30-00Z",
                           "1762432200000",
                           "2025-11-06T12:30:00.12a",
                           "2025-11-06T+1:30:00Z",
                           "2025-11-06T12:+3:00Z"}) {
    EXPECT_EQ(parse_timestamp_micros(text), std::nullopt) << "'" << text << "'";
  }
  const std::string with_nul("2025-11-06T12:30:00\0Z", 21);
  EXPECT_EQ(parse_timestamp_micros(with_nul), std::nullopt);
}

// Records in time order repeat their minute, which the parser remembers: what follows it must
// still be checked, and a new minute, a bad one or another separator must not reuse it.
TEST(ParseTimestamp, RepeatedMinutesStillCheckTheRest) {
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:07.5Z"), kNov6At1230 + 7 * kSecond + 500000);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:59.999999Z"), kNov6At1230 + 59 * kSecond + 999999);
  for (const char* text : {"2025-11-06T12:30:60Z", "2025-11-06T12:30:07.Z", "2025-11-06T12:30:07+25:00",
                           "2025-11-06T12:30:7Z", "2025-11-06T12:30:07Zjunk", "2025-11-06T12:3"}) {
    EXPECT_EQ(parse_timestamp_micros(text), std::nullopt) << text;
  }
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:30:00+01:00"), kNov6At1230 - kHour);
  EXPECT_EQ(parse_timestamp_ntz_micros("2025-11-06T12:30:01"), kNov6At1230 + kSecond);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06 12:30:00Z"), kNov6At1230);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06T12:31:00Z"), kNov6At1230 + kMinute);
  EXPECT_EQ(parse_timestamp_micros("2025-11-07T12:31:00Z"), kNov6At1230 + kDay + kMinute);
  EXPECT_EQ(parse_timestamp_micros("2025-02-29T12:31:00Z"), std::nullopt);
  EXPECT_EQ(parse_timestamp_micros("2025-11-07T12:31:00Z"), kNov6At1230 + kDay + kMinute);
  EXPECT_EQ(parse_timestamp_micros("2025-11-06"), kNov6At1230 - 12 * kHour - 30 * kMinute);
}

TEST(ParseDate, ValidDates) {
  EXPECT_EQ(parse_date_days("1970-01-01"), 0);
  EXPECT_EQ(parse_date_days("2025-11-06"), 20398);
  EXPECT_EQ(parse_date_days("2000-02-29"), 11016);
  EXPECT_EQ(parse_date_days("1969-12-31"), -1);
  EXPECT_EQ(parse_date_days("1969-07-20"), -165);
  EXPECT_EQ(parse_date_days("0001-01-01"), -719162);
  EXPECT_EQ(parse_date_days("9999-12-31"), 2932896);
}

TEST(ParseDate, RejectsAnythingButYyyyMmDd) {
  for (const char* text : {"", "2025-11-06T00:00:00Z", "2025-11-06 ", "2025-02-29", "2025-02-30", "0000-01-01",
                           "20251106", "2025-11-6", "11/06/2025", "99999-01-01"}) {
    EXPECT_EQ(parse_date_days(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(DaysFromMicros, FloorsTowardsNegativeInfinity) {
  EXPECT_EQ(days_from_micros(0), 0);
  EXPECT_EQ(days_from_micros(kDay - 1), 0);
  EXPECT_EQ(days_from_micros(kDay), 1);
  EXPECT_EQ(days_from_micros(-1), -1);
  EXPECT_EQ(days_from_micros(-kDay), -1);
  EXPECT_EQ(days_from_micros(-kDay - 1), -2);
  EXPECT_EQ(days_from_micros(kMinTimestampMicros), -719162);
  EXPECT_EQ(days_from_micros(kMaxTimestampMicros), 2932896);
}

TEST(Dt, OffsetCrossingMidnightGivesTheUtcDate) {
  EXPECT_EQ(date_text(days_from_micros(*parse_timestamp_micros("2025-11-06T23:30:00-02:00"))), "2025-11-07");
  EXPECT_EQ(date_text(days_from_micros(*parse_timestamp_micros("2025-11-07T00:30:00+02:00"))), "2025-11-06");
  EXPECT_EQ(date_text(days_from_micros(*parse_timestamp_micros("2025-11-06T23:59:59.999999Z"))), "2025-11-06");
  EXPECT_EQ(date_text(days_from_micros(*parse_timestamp_micros("1969-12-31T23:59:59.999Z"))), "1969-12-31");
  EXPECT_EQ(date_text(days_from_micros(*parse_timestamp_micros("2024-12-31T23:00:00-01:00"))), "2025-01-01");
}

TEST(FormatDate, KnownDays) {
  EXPECT_EQ(date_text(0), "1970-01-01");
  EXPECT_EQ(date_text(-1), "1969-12-31");
  EXPECT_EQ(date_text(20398), "2025-11-06");
  EXPECT_EQ(date_text(11016), "2000-02-29");
  EXPECT_EQ(date_text(-719162), "0001-01-01");
  EXPECT_EQ(date_text(2932896), "9999-12-31");
}

TEST(FormatDate, RoundTripsEveryDayOfYears1To9999) {
  int failures = 0;
  for (int32_t day = -719162; day <= 2932896 && failures < 5; ++day) {
    const std::string text = date_text(day);
    const std::optional<int32_t> parsed = parse_date_days(text);
    if (parsed != day) {
      ++failures;
      ADD_FAILURE() << "day " << day << " formatted as " << text;
    }
  }
}

}  // namespace
}  // namespace kpipe
