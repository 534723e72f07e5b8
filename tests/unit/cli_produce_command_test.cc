// `kpipe produce` end to end against librdkafka's mock cluster (test.mock.num.brokers), so the
// command's exit codes are checked without a real broker; the integration tests use a real one.
#include "cli/produce_command.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace kpipe {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> mock(std::vector<std::string> args) {
  args.insert(args.end(),
              {"--env-file", "/dev/null", "--kafka-prop", "test.mock.num.brokers=1", "--kafka-prop", "log_level=0"});
  return args;
}

TEST(ProduceCommand, CountAtFullSpeedDeliversAndExitsZero) {
  EXPECT_EQ(run_produce(mock({"--rate", "0", "--count", "2000", "--topic", "t"})), 0);
}

TEST(ProduceCommand, DurationStopsTheRun) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(run_produce(mock({"--rate", "50", "--duration", "0.5"})), 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(ProduceCommand, InputFile) {
  auto path = std::filesystem::temp_directory_path() / ("kpipe-input-" + std::to_string(::getpid()) + ".jsonl");
  std::ofstream(path) << "{\"a\":1}\n\n{\"b\":\"été\"}\n";
  EXPECT_EQ(run_produce(mock({"--rate", "0", "--input", path.string()})), 0);
  std::filesystem::remove(path);
}

TEST(ProduceCommand, BadSettingsExitTwo) {
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--foo"}), 2);
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--rate", "abc"}), 2);
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--rate", "-1"}), 2);
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--topic="}), 2);
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--input", "/nonexistent/kpipe.jsonl"}), 2);
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--kafka-prop", "no.such.thing=1"}), 2);
  EXPECT_EQ(run_produce({"--env-file", "/nonexistent/.env"}), 2);
}

TEST(ProduceCommand, HelpExitsZero) { EXPECT_EQ(run_produce({"--help"}), 0); }

TEST(ProduceCommand, UnreachableBrokerGivesUpAfterTheTimeout) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(run_produce({"--env-file", "/dev/null", "--bootstrap-servers", "127.0.0.1:1", "--timeout", "1",
                         "--kafka-prop", "log_level=0"}),
            1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

}  // namespace
}  // namespace kpipe
