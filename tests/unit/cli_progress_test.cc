// The progress line of long runs: its text on a terminal and in a log.
#include "cli/progress.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace kpipe {
namespace {

TEST(Progress, ThousandsAreGrouped) {
  EXPECT_EQ(group_thousands(0), "0");
  EXPECT_EQ(group_thousands(999), "999");
  EXPECT_EQ(group_thousands(1000), "1,000");
  EXPECT_EQ(group_thousands(1234000), "1,234,000");
  EXPECT_EQ(group_thousands(-12345), "-12,345");
}

TEST(Progress, EtaIsRoundedUpAndShortened) {
  EXPECT_EQ(format_eta(std::nullopt), "?");
  EXPECT_EQ(format_eta(0.0), "0s");
  EXPECT_EQ(format_eta(8.2), "9s");
  EXPECT_EQ(format_eta(245), "4m05s");
  EXPECT_EQ(format_eta(2 * 3600 + 13 * 60 + 5), "2h13m");
}

TEST(Progress, TheBarAsTheIssueDrawsIt) {
  // 1,234,000 of 5,000,000 at 412,000/s: 3,766,000 left, 9.14 s, rounded up.
  EXPECT_EQ(format_progress_bar(1234000, 5000000, 412000, "records"),
            "[##        ] 1,234,000/5,000,000 records  412,000 rec/s  ETA 10s");
  EXPECT_EQ(format_progress_bar(2500000, 5000000, 500000, "records"),
            "[#####     ] 2,500,000/5,000,000 records  500,000 rec/s  ETA 5s");
  EXPECT_EQ(format_progress_bar(5000000, 5000000, 500000, "records"),
            "[##########] 5,000,000/5,000,000 records  500,000 rec/s  ETA 0s");
  // Before the first batch: no rate, no ETA; more done than the total never overflows the bar.
  EXPECT_EQ(format_progress_bar(0, 10, 0, "messages"), "[          ] 0/10 messages  0 rec/s  ETA ?");
  EXPECT_EQ(format_progress_bar(12, 10, 3, "messages").substr(0, 12), "[##########]");
}

TEST(Progress, ThePlainLine) {
  EXPECT_EQ(format_progress_plain(1234000, 5000000, 412000, "records"),
            "1,234,000/5,000,000 records (24.7%), 412,000 rec/s, ETA 10s");
}

TEST(Progress, AReporterWithoutATerminalWritesPlainLinesAndAFinalOne) {
  // stderr goes to a file for the test.
  char path[] = "/tmp/kpipe-progress-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ::dup2(fd, 2);
  {
    std::atomic<int64_t> done{0};
    ProgressOptions po;
    po.unit = "messages";
    po.plain_every = std::chrono::milliseconds(50);
    ProgressReporter r(po, [&] { return done.load(); });
    r.set_total(100);
    r.start();
    for (int i = 0; i < 10; ++i) {
      done += 10;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.finish();
    r.finish();  // idempotent
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::FILE* f = std::fopen(path, "r");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  std::remove(path);
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_NE(text.find("progress: "), std::string::npos) << text;
  const auto last = text.rfind("progress: ");
  EXPECT_NE(text.find("100/100 messages (100.0%)", last), std::string::npos) << text;
  EXPECT_GE(std::count(text.begin(), text.end(), '\n'), 2) << text;
}

}  // namespace
}  // namespace kpipe
