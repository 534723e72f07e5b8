#include "cli/line_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace kpipe {
namespace {

using namespace std::chrono_literals;

// Writes `text` into a pipe from a thread and reads it back line by line.
std::vector<std::string> read_lines(const std::string& text, int64_t* skipped = nullptr) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fds[1], text.data() + off, std::min<size_t>(text.size() - off, 7000));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fds[1]);
  });
  LineReader reader(fds[0], [] { return false; });
  std::vector<std::string> lines;
  while (auto line = reader.next()) lines.emplace_back(*line);
  writer.join();
  ::close(fds[0]);
  EXPECT_EQ(reader.error(), "");
  if (skipped != nullptr) *skipped = reader.skipped_empty();
  return lines;
}

TEST(LineReader, LinesAsTheyAreWithoutTheirLineEnds) {
  int64_t skipped = 0;
  auto lines = read_lines("{\"a\":\"été 🚀\"}\n\n  spaced  \r\n{\"q\":\"say \\\"hi\\\"\"}\n\r\nlast", &skipped);
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":\"été 🚀\"}", "  spaced  ", "{\"q\":\"say \\\"hi\\\"\"}", "last"}));
  EXPECT_EQ(skipped, 2);
}

TEST(LineReader, EmptyInput) {
  EXPECT_TRUE(read_lines("").empty());
  EXPECT_TRUE(read_lines("\n\n\n").empty());
}

TEST(LineReader, LinesLongerThanTheBufferAndManyLines) {
  std::string long_line(300000, 'x');
  std::string text = "a\n" + long_line + "\nb\n";
  for (int i = 0; i < 50000; ++i) text += std::to_string(i) + "\n";
  auto lines = read_lines(text);
  ASSERT_EQ(lines.size(), 50003u);
  EXPECT_EQ(lines[0], "a");
  EXPECT_EQ(lines[1], long_line);
  EXPECT_EQ(lines[2], "b");
  EXPECT_EQ(lines[50002], "49999");
}

TEST(LineReader, LineNumbersCountEveryLine) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string text = "a\n\nb\n";
  ASSERT_EQ(::write(fds[1], text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ::close(fds[1]);
  LineReader reader(fds[0], nullptr);
  ASSERT_EQ(reader.next(), "a");
  EXPECT_EQ(reader.line_number(), 1);
  ASSERT_EQ(reader.next(), "b");
  EXPECT_EQ(reader.line_number(), 3);
  EXPECT_FALSE(reader.next());
  ::close(fds[0]);
}

TEST(LineReader, AStopRequestEndsAWaitOnAQuietPipe) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::atomic<bool> stop{false};
  LineReader reader(fds[0], [&] { return stop.load(); });
  std::thread stopper([&] {
    std::this_thread::sleep_for(150ms);
    stop = true;
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(reader.next());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(reader.error(), "");
  stopper.join();
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST(LineReader, ReadErrorIsReported) {
  int fd = ::open("/", O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  LineReader reader(fd, nullptr);
  EXPECT_FALSE(reader.next());
  EXPECT_NE(reader.error().find("cannot read input"), std::string::npos) << reader.error();
  ::close(fd);
}

}  // namespace
}  // namespace kpipe
