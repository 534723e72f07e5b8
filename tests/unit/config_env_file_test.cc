#include "config/env_file.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;
using ::testing::HasSubstr;

Pairs parse_ok(std::string_view text) {
  auto r = parse_env_file(text, "test.env");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Pairs{};
}

std::string parse_error(std::string_view text) {
  auto r = parse_env_file(text, "test.env");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

// The seed's .env, byte for byte, inline comments after values included.
TEST(EnvFile, ReadsTheSeedFileAsDockerComposeDoes) {
  const char* seed =
      "# Kafka & Spark core settings\n"
      "KAFKA_TOPIC=events\n"
      "MSGS_PER_SEC=5\n"
      "KAFKA_BOOTSTRAP_SERVERS=kafka:9092\n"
      "OUTPUT_PATH=/opt/spark-output/parquet\n"
      "\n"
      "# Spark streaming control\n"
      "TRIGGER_SECONDS=30            # time interval between batches\n"
      "MAX_RECORDS_PER_FILE=5000     # max records per file\n"
      "FILES_PER_PARTITION=1         # number of output files per day (dt) partition\n";
  EXPECT_EQ(parse_ok(seed), (Pairs{{"KAFKA_TOPIC", "events"},
                                   {"MSGS_PER_SEC", "5"},
                                   {"KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"},
                                   {"OUTPUT_PATH", "/opt/spark-output/parquet"},
                                   {"TRIGGER_SECONDS", "30"},
                                   {"MAX_RECORDS_PER_FILE", "5000"},
                                   {"FILES_PER_PARTITION", "1"}}));
}

TEST(EnvFile, EmptyAndCommentOnlyFiles) {
  EXPECT_TRUE(parse_ok("").empty());
  EXPECT_TRUE(parse_ok("\n\n   \n\t\n").empty());
  EXPECT_TRUE(parse_ok("# only a comment").empty());
  EXPECT_TRUE(parse_ok("   # indented comment\n").empty());
}

TEST(EnvFile, TrimsKeyAndUnquotedValue) {
  EXPECT_EQ(parse_ok("  KEY  =  some value  \n"), (Pairs{{"KEY", "some value"}}));
  EXPECT_EQ(parse_ok("KEY=\tv\t"), (Pairs{{"KEY", "v"}}));
}

TEST(EnvFile, ExportPrefixIsIgnored) {
  EXPECT_EQ(parse_ok("export KAFKA_TOPIC=t1\nexport\tX=2"), (Pairs{{"KAFKA_TOPIC", "t1"}, {"X", "2"}}));
  // A variable may still be called "exporter".
  EXPECT_EQ(parse_ok("exporter=1"), (Pairs{{"exporter", "1"}}));
}

TEST(EnvFile, EmptyValues) {
  EXPECT_EQ(parse_ok("A=\nB=   \nC= # only a comment\n"), (Pairs{{"A", ""}, {"B", ""}, {"C", ""}}));
  EXPECT_EQ(parse_ok("A=''\nB=\"\""), (Pairs{{"A", ""}, {"B", ""}}));
}

TEST(EnvFile, HashWithoutWhitespaceBeforeItIsText) {
  EXPECT_EQ(parse_ok("URL=http://h/#frag\nX=a#b # c"), (Pairs{{"URL", "http://h/#frag"}, {"X", "a#b"}}));
  EXPECT_EQ(parse_ok("X=#notacomment"), (Pairs{{"X", "#notacomment"}}));
}

TEST(EnvFile, SingleQuotesAreLiteral) {
  EXPECT_EQ(parse_ok(R"(A='x # not a comment'   # a comment)"), (Pairs{{"A", "x # not a comment"}}));
  EXPECT_EQ(parse_ok(R"(A='a\nb "q" $HOME')"), (Pairs{{"A", R"(a\nb "q" $HOME)"}}));
  EXPECT_EQ(parse_ok("A='  spaces kept  '"), (Pairs{{"A", "  spaces kept  "}}));
}

TEST(EnvFile, DoubleQuotesHaveEscapes) {
  EXPECT_EQ(parse_ok(R"(A="line1\nline2")"), (Pairs{{"A", "line1\nline2"}}));
  EXPECT_EQ(parse_ok(R"(A="say \"hi\" \\ back")"), (Pairs{{"A", R"(say "hi" \ back)"}}));
  EXPECT_EQ(parse_ok(R"(A="tab\there")"), (Pairs{{"A", "tab\there"}}));
  EXPECT_EQ(parse_ok(R"(A="# inside" # outside)"), (Pairs{{"A", "# inside"}}));
  EXPECT_EQ(parse_ok(R"(A="keep \d as is")"), (Pairs{{"A", R"(keep \d as is)"}}));
  EXPECT_EQ(parse_ok(R"(A="{\"k\": 1}")"), (Pairs{{"A", R"({"k": 1})"}}));
}

TEST(EnvFile, QuotedValuesMaySpanLines) {
  EXPECT_EQ(parse_ok("A=\"one\ntwo\"\nB=3"), (Pairs{{"A", "one\ntwo"}, {"B", "3"}}));
  EXPECT_EQ(parse_ok("A='one\r\ntwo'\r\nB=3\r\n"), (Pairs{{"A", "one\ntwo"}, {"B", "3"}}));
}

TEST(EnvFile, WindowsLineEndingsAndByteOrderMark) {
  EXPECT_EQ(parse_ok("\xEF\xBB\xBF"
                     "A=1\r\nB=2   # c\r\n"),
            (Pairs{{"A", "1"}, {"B", "2"}}));
}

TEST(EnvFile, UnicodeValuesPassThrough) {
  EXPECT_EQ(parse_ok("SOURCE=capteur-été-🚀\n"), (Pairs{{"SOURCE", "capteur-été-🚀"}}));
}

TEST(EnvFile, LaterDuplicatesAreKeptInOrder) { EXPECT_EQ(parse_ok("A=1\nA=2"), (Pairs{{"A", "1"}, {"A", "2"}})); }

TEST(EnvFile, ErrorsNameFileAndLine) {
  EXPECT_EQ(parse_error("A=1\nJUSTAKEY\n"), "test.env:2: expected KEY=VALUE, found 'JUSTAKEY'");
  EXPECT_EQ(parse_error("A=1\n\n=value"), "test.env:3: a line starts with '=': expected KEY=VALUE");
  EXPECT_EQ(parse_error("1ABC=x"), "test.env:1: '1ABC' is not a valid variable name (letters, digits, '_', '.', '-')");
  EXPECT_EQ(parse_error("A=1\nB=\"never closed\nC=3\n"), "test.env:2: the double quote opened here is never closed");
  EXPECT_EQ(parse_error("B='x"), "test.env:1: the single quote opened here is never closed");
  EXPECT_EQ(parse_error("A=\"x\"y"), "test.env:1: unexpected text after the closing quote of A");
}

TEST(EnvFile, EntriesCarryTheirLineNumbers) {
  auto r = parse_env_entries("# c\n\nA=1\nB=\"x\ny\"\nC=3\n", "f");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].line, 3);
  EXPECT_EQ((*r)[1].line, 4);
  EXPECT_EQ((*r)[2].line, 6);
}

// The repository's own .env: the seed's seven names with local defaults, inline comments and all.
TEST(EnvFile, RepositoryDotEnvHasTheSeedsSevenSettings) {
  auto r = read_env_file(std::string(KPIPE_SOURCE_DIR) + "/.env");
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::map<std::string, std::string> m;
  for (const auto& e : *r) m[e.key] = e.value;
  EXPECT_EQ(m, (std::map<std::string, std::string>{{"KAFKA_TOPIC", "events"},
                                                   {"MSGS_PER_SEC", "5"},
                                                   {"KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"},
                                                   {"OUTPUT_PATH", "data/output/parquet"},
                                                   {"TRIGGER_SECONDS", "30"},
                                                   {"MAX_RECORDS_PER_FILE", "5000"},
                                                   {"FILES_PER_PARTITION", "1"}}));
}

TEST(EnvFile, MissingFileIsAnErrorNamingIt) {
  auto r = read_env_file("/nonexistent/kpipe.env");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("/nonexistent/kpipe.env"));
}

}  // namespace
}  // namespace kpipe
