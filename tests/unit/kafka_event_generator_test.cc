#include "kafka/event_generator.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace kpipe {
namespace {

using namespace std::chrono;

system_clock::time_point at(int y, unsigned m, unsigned d, int hh, int mm, int ss, int ms) {
  return system_clock::time_point(sys_days(year{y} / month{m} / day{d}).time_since_epoch() + hours(hh) + minutes(mm) +
                                  seconds(ss) + milliseconds(ms));
}

// Pulls the text between `"name":` and the next ',' or '}' (the generator never puts either
// inside its own fields, and a source with them is escaped and tested separately).
std::string field(std::string_view json, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\":";
  auto p = json.find(key);
  if (p == std::string_view::npos) return "<missing>";
  p += key.size();
  auto e = json.find_first_of(",}", p);
  return std::string(json.substr(p, e - p));
}

const std::regex kShape(
    R"(\{"event_id":"kp-[0-9a-f]{12}-[0-9]{12}","ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z","value":(100|[0-9]{1,2})\.[0-9]{2},"source":"kpipe-producer"\})");

TEST(EventGenerator, ShapeIsTheSeedsFourFieldsInOrder) {
  EventGenerator gen("kpipe-producer", random_run_prefix(), 1);
  for (int i = 0; i < 1000; ++i) {
    auto e = gen.next(system_clock::now());
    ASSERT_TRUE(std::regex_match(std::string(e.json), kShape)) << e.json;
    EXPECT_EQ("\"" + std::string(e.key) + "\"", field(e.json, "event_id"));
  }
}

TEST(EventGenerator, ExactTextForAKnownInstant) {
  EventGenerator gen("demo-producer", "kp-0123456789ab", 7);
  auto e = gen.next(at(2025, 11, 6, 12, 30, 0, 123));
  EXPECT_EQ(e.key, "kp-0123456789ab-000000000001");
  std::string json(e.json);
  std::string value = field(json, "value");
  EXPECT_EQ(json, R"({"event_id":"kp-0123456789ab-000000000001","ts":"2025-11-06T12:30:00.123Z","value":)" + value +
                      R"(,"source":"demo-producer"})");
}

TEST(EventGenerator, TimestampsAcrossBoundaries) {
  EventGenerator gen("s", "kp-x", 1);
  auto ts = [&](system_clock::time_point t) { return field(gen.next(t).json, "ts"); };
  EXPECT_EQ(ts(system_clock::time_point{}), "\"1970-01-01T00:00:00.000Z\"");
  EXPECT_EQ(ts(at(2024, 2, 29, 23, 59, 59, 999)), "\"2024-02-29T23:59:59.999Z\"");
  EXPECT_EQ(ts(at(2024, 3, 1, 0, 0, 0, 0)), "\"2024-03-01T00:00:00.000Z\"");
  EXPECT_EQ(ts(at(2024, 3, 1, 0, 0, 0, 1)), "\"2024-03-01T00:00:00.001Z\"");  // same second, cached prefix
  EXPECT_EQ(ts(at(1999, 12, 31, 23, 59, 59, 500)), "\"1999-12-31T23:59:59.500Z\"");
  EXPECT_EQ(ts(at(2100, 1, 1, 7, 8, 9, 10)), "\"2100-01-01T07:08:09.010Z\"");
  // Sub-millisecond precision is truncated, not rounded up into the next second.
  EXPECT_EQ(ts(at(2025, 1, 1, 0, 0, 0, 999) + microseconds(999)), "\"2025-01-01T00:00:00.999Z\"");
}

TEST(EventGenerator, ValuesAreTwoDecimalNumbersFromZeroToHundred) {
  EventGenerator gen("s", "kp-x", 42);
  double sum = 0;
  double lo = 1000, hi = -1;
  std::set<std::string> distinct;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string v = field(gen.next(system_clock::now()).json, "value");
    ASSERT_TRUE(std::regex_match(v, std::regex(R"((0|[1-9][0-9]?|100)\.[0-9]{2})"))) << v;
    double d = std::stod(v);
    ASSERT_GE(d, 0.0);
    ASSERT_LE(d, 100.0);
    sum += d;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
    distinct.insert(v);
  }
  EXPECT_NEAR(sum / n, 50, 1.5);
  EXPECT_LT(lo, 1);
  EXPECT_GT(hi, 99);
  EXPECT_GT(distinct.size(), 5000u);
}

TEST(EventGenerator, IdsAreSequentialAndUnique) {
  EventGenerator gen("s", "kp-abc", 1);
  std::set<std::string> ids;
  for (int i = 1; i <= 5000; ++i) {
    auto e = gen.next(system_clock::now());
    char expected[64];
    std::snprintf(expected, sizeof expected, "kp-abc-%012d", i);
    ASSERT_EQ(e.key, expected);
    ids.insert(std::string(e.key));
  }
  EXPECT_EQ(ids.size(), 5000u);
  EXPECT_EQ(gen.sequence(), 5000u);
}

TEST(EventGenerator, RunPrefixesDiffer) {
  std::set<std::string> prefixes;
  for (int i = 0; i < 100; ++i) {
    std::string p = random_run_prefix();
    ASSERT_TRUE(std::regex_match(p, std::regex("kp-[0-9a-f]{12}"))) << p;
    prefixes.insert(p);
  }
  EXPECT_EQ(prefixes.size(), 100u);
}

TEST(EventGenerator, SourceIsJsonEscaped) {
  EventGenerator gen("say \"hi\" \\ été\n", "kp-x", 1);
  std::string json(gen.next(system_clock::now()).json);
  EXPECT_NE(json.find(R"("source":"say \"hi\" \\ été\n"})"), std::string::npos) << json;
}

TEST(EventGenerator, ReusesOneBuffer) {
  EventGenerator gen(std::string(300, 's'), "kp-x", 1);
  const char* first = gen.next(system_clock::now()).json.data();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(gen.next(system_clock::now()).json.data(), first);
}

// An independent reader: Python's json module parses what we generate, with the types the
// stream's schema expects.
TEST(EventGenerator, PythonJsonParsesEveryEvent) {
  std::string python = KPIPE_TEST_PYTHON;
  if (!std::filesystem::exists(python)) python = "/usr/bin/python3";
  if (!std::filesystem::exists(python)) GTEST_SKIP() << "no python to cross-check with";
  auto path = std::filesystem::temp_directory_path() / ("kpipe-events-" + std::to_string(::getpid()) + ".jsonl");
  {
    std::ofstream out(path);
    EventGenerator gen("kpipe-\"quoted\"-été", random_run_prefix(), 3);
    for (int i = 0; i < 2000; ++i) out << gen.next(system_clock::now()).json << "\n";
  }
  const std::string script =
      "import json, sys, datetime\n"
      "n = 0\n"
      "for line in open(sys.argv[1], encoding='utf-8'):\n"
      "    e = json.loads(line)\n"
      "    assert list(e) == ['event_id', 'ts', 'value', 'source'], e\n"
      "    assert isinstance(e['event_id'], str) and isinstance(e['source'], str), e\n"
      "    assert isinstance(e['value'], float) and 0 <= e['value'] <= 100, e\n"
      "    assert e['source'] == 'kpipe-\"quoted\"-\\u00e9t\\u00e9', e\n"
      "    datetime.datetime.strptime(e['ts'], '%Y-%m-%dT%H:%M:%S.%fZ')\n"
      "    n += 1\n"
      "assert n == 2000, n\n";
  auto script_path = path.string() + ".py";
  std::ofstream(script_path) << script;
  int rc = std::system((python + " " + script_path + " " + path.string()).c_str());
  std::filesystem::remove(path);
  std::filesystem::remove(script_path);
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 0);
}

}  // namespace
}  // namespace kpipe
