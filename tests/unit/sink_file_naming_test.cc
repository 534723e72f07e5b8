#include "sink/file_naming.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "common/time_format.h"

namespace kpipe {
namespace {

constexpr std::string_view kQuery = "1a2b3c4d-5e6f-4a0b-8c9d-0123456789ab";

TEST(FileNamingTest, FinalNamesAsDesigned) {
  EXPECT_EQ(final_file_name(kQuery, 42, 0, ".snappy.parquet"), "part-1a2b3c4d-00042-000.snappy.parquet");
  EXPECT_EQ(final_file_name(kQuery, 42, 7, ".zstd.parquet"), "part-1a2b3c4d-00042-007.zstd.parquet");
  EXPECT_EQ(final_file_name(kQuery, 0, 0, ".parquet"), "part-1a2b3c4d-00000-000.parquet");
  EXPECT_EQ(final_file_name(kQuery, 3, 12, ".csv"), "part-1a2b3c4d-00003-012.csv");
  EXPECT_EQ(final_file_name(kQuery, 3, 0, ".jsonl"), "part-1a2b3c4d-00003-000.jsonl");
  // Wider numbers are not cut.
  EXPECT_EQ(final_file_name(kQuery, 1234567, 1000, ".csv"), "part-1a2b3c4d-1234567-1000.csv");
  // Dashes never reach the 8 characters, so the name always parses back.
  EXPECT_EQ(final_file_name("ab-cd-ef-gh-ij", 1, 1, ".csv"), "part-abcdefgh-00001-001.csv");
}

TEST(FileNamingTest, TempNamesAreHiddenAndRecognised) {
  const std::string final_name = final_file_name(kQuery, 42, 0, ".snappy.parquet");
  const std::string temp = temp_file_name(final_name);
  EXPECT_EQ(temp, ".part-1a2b3c4d-00042-000.snappy.parquet.tmp");
  EXPECT_TRUE(is_temp_file_name(temp));
  EXPECT_TRUE(is_temp_file_name(".7.tmp"));  // write_atomically's checkpoint temp files
  EXPECT_FALSE(is_temp_file_name(final_name));
  EXPECT_EQ(final_name_of_temp(temp), final_name);
  EXPECT_EQ(final_name_of_temp(final_name), "");
  EXPECT_FALSE(is_temp_file_name(".tmp"));
  EXPECT_FALSE(is_temp_file_name("x.tmp"));
  EXPECT_FALSE(is_temp_file_name(".hidden"));
  EXPECT_FALSE(is_temp_file_name("_SUCCESS"));
}

TEST(FileNamingTest, BatchIdRoundTrips) {
  for (int64_t batch : {0LL, 1LL, 42LL, 99999LL, 100000LL, 123456789012LL}) {
    for (int index : {0, 5, 999, 1000}) {
      for (std::string_view ext : {".snappy.parquet", ".zstd.parquet", ".parquet", ".csv", ".jsonl"}) {
        auto got = batch_id_of(final_file_name(kQuery, batch, index, ext), kQuery);
        ASSERT_TRUE(got.has_value()) << batch << " " << index << " " << ext;
        EXPECT_EQ(*got, batch);
      }
    }
  }
}

TEST(FileNamingTest, BatchIdOfRejectsWhatIsNotOurs) {
  const std::string name = final_file_name(kQuery, 7, 0, ".csv");
  EXPECT_FALSE(batch_id_of(name, "99999999-0000").has_value());         // another query's file
  EXPECT_FALSE(batch_id_of(temp_file_name(name), kQuery).has_value());  // temp files are cleaned separately
  EXPECT_FALSE(batch_id_of("_SUCCESS", kQuery).has_value());
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d-00007-000", kQuery).has_value());     // no extension
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d-0007-000.csv", kQuery).has_value());  // not our padding
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d-00007-00.csv", kQuery).has_value());
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d-00007-000x.csv", kQuery).has_value());
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d-00007.csv", kQuery).has_value());
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d-99999999999999999999-000.csv", kQuery).has_value());  // overflow
  EXPECT_FALSE(batch_id_of("part-1a2b3c4d--0007-000.csv", kQuery).has_value());
}

TEST(FileNamingTest, NamesSortInBatchAndFileOrder) {
  std::vector<std::string> names;
  for (int64_t batch : {0, 9, 10, 99, 100, 9999, 10000, 99999}) {
    for (int index : {0, 1, 9, 10, 100, 999}) names.push_back(final_file_name(kQuery, batch, index, ".csv"));
  }
  std::vector<std::string> sorted = names;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, names);
}

TEST(FileNamingTest, NamesAreDeterministic) {
  EXPECT_EQ(final_file_name(kQuery, 5, 2, ".csv"), final_file_name(std::string(kQuery), 5, 2, ".csv"));
}

TEST(FileNamingTest, DtDirectories) {
  EXPECT_EQ(dt_dir_name(0), "dt=1970-01-01");
  EXPECT_EQ(dt_dir_name(-1), "dt=1969-12-31");
  EXPECT_EQ(dt_dir_name(20398), "dt=2025-11-06");
  EXPECT_EQ(dt_dir_name(11016), "dt=2000-02-29");   // 400-year leap day
  EXPECT_EQ(dt_dir_name(-25508), "dt=1900-03-01");  // 1900 is not a leap year
  EXPECT_EQ(dt_dir_name(-719528), "dt=0000-01-01");
  EXPECT_EQ(dt_dir_name(2932896), "dt=9999-12-31");
  EXPECT_EQ(dt_dir_name(2932897), "dt=+10000-01-01");
  EXPECT_EQ(dt_dir_name(-719529), "dt=-0001-12-31");
}

// civil_from_days against a day-by-day walk of the calendar over 1600..2400.
TEST(FileNamingTest, CivilFromDaysMatchesACalendarWalk) {
  auto is_leap = [](int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; };
  const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = -134774;  // 1601-01-01
  for (int64_t y = 1601; y < 2400; ++y) {
    for (int m = 1; m <= 12; ++m) {
      int n = month_days[m - 1] + (m == 2 && is_leap(y) ? 1 : 0);
      for (int d = 1; d <= n; ++d, ++days) {
        CivilDate c = civil_from_days(days);
        ASSERT_EQ(c.year, y) << days;
        ASSERT_EQ(c.month, m) << days;
        ASSERT_EQ(c.day, d) << days;
      }
    }
  }
}

TEST(FileNamingTest, TimestampStyles) {
  char buf[kMaxTimeText];
  auto fmt = [&](int64_t us, TimestampStyle s) { return std::string(buf, format_timestamp(us, s, buf)); };
  EXPECT_EQ(fmt(1762432200123000, TimestampStyle::kIsoUtc), "2025-11-06T12:30:00.123Z");
  EXPECT_EQ(fmt(1762432200123456, TimestampStyle::kIsoUtc), "2025-11-06T12:30:00.123456Z");
  EXPECT_EQ(fmt(1762432200123456, TimestampStyle::kIsoUtcMillis), "2025-11-06T12:30:00.123Z");
  EXPECT_EQ(fmt(1762432200123000, TimestampStyle::kDisplay), "2025-11-06 12:30:00.123");
  EXPECT_EQ(fmt(1762432200100000, TimestampStyle::kDisplay), "2025-11-06 12:30:00.1");
  EXPECT_EQ(fmt(1762432200000000, TimestampStyle::kDisplay), "2025-11-06 12:30:00");
  EXPECT_EQ(fmt(-1, TimestampStyle::kIsoUtc), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(fmt(-1000, TimestampStyle::kIsoUtc), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(fmt(0, TimestampStyle::kIsoUtc), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(fmt(std::numeric_limits<int64_t>::min(), TimestampStyle::kIsoUtc), "-290308-12-21T19:59:05.224192Z");
  EXPECT_EQ(fmt(std::numeric_limits<int64_t>::max(), TimestampStyle::kIsoUtc), "+294247-01-10T04:00:54.775807Z");
}

}  // namespace
}  // namespace kpipe
