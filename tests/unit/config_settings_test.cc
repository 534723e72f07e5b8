#include "config/settings.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const std::vector<SettingSpec>& specs() {
  static const std::vector<SettingSpec> s = {
      {"KAFKA_TOPIC", "events", "topic", {"--topic"}},
      {"MSGS_PER_SEC", "5", "rate", {"--rate"}},
      {"KAFKA_BOOTSTRAP_SERVERS", "localhost:9092", "brokers", {"--bootstrap-servers"}},
      {"TRIGGER_SECONDS", "30", "trigger", {}},
      {"ONCE", "false", "once", {"--once"}, true, false, false},
      {"COUNT", "0", "count", {"--count"}, false, false, false},
      {"KAFKA_PROP", "", "props", {"--kafka-prop"}, false, true, false},
      {"SASL_PASSWORD", "", "a secret", {}},
  };
  return s;
}

// Runs each test in an empty temporary folder, so a developer's ./.env never leaks in.
class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    old_cwd_ = fs::current_path();
    dir_ = fs::temp_directory_path() / ("kpipe-settings-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::current_path(dir_);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
  }

  void write_file(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  Result<Settings> load(std::vector<std::string> args) {
    return Settings::load("kpipe produce", specs(), args,
                          [this](const std::string& name) -> std::optional<std::string> {
                            auto it = env_.find(name);
                            if (it == env_.end()) return std::nullopt;
                            return it->second;
                          });
  }
  Settings load_ok(std::vector<std::string> args) {
    auto r = load(std::move(args));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Settings{};
  }
  std::string load_error(std::vector<std::string> args) {
    auto r = load(std::move(args));
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }

  fs::path old_cwd_;
  fs::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(SettingsTest, DefaultsWhenNothingElseIsGiven) {
  Settings s = load_ok({});
  EXPECT_EQ(s.get("KAFKA_TOPIC"), "events");
  EXPECT_EQ(s.source("KAFKA_TOPIC"), "default");
  EXPECT_EQ(s.get("MSGS_PER_SEC"), "5");
  EXPECT_FALSE(s.help_requested());
  EXPECT_TRUE(s.get_list("KAFKA_PROP").empty());
}

TEST_F(SettingsTest, PrecedenceFlagsOverEnvironmentOverDotEnvOverDefaults) {
  write_file(".env", "KAFKA_TOPIC=from-file\nMSGS_PER_SEC=7\nTRIGGER_SECONDS=60   # comment\n");
  env_["KAFKA_TOPIC"] = "from-env";
  env_["MSGS_PER_SEC"] = "8";
  Settings s = load_ok({"--topic", "from-flag"});
  EXPECT_EQ(s.get("KAFKA_TOPIC"), "from-flag");
  EXPECT_EQ(s.source("KAFKA_TOPIC"), "flag");
  EXPECT_EQ(s.get("MSGS_PER_SEC"), "8");
  EXPECT_EQ(s.source("MSGS_PER_SEC"), "environment");
  EXPECT_EQ(s.get("TRIGGER_SECONDS"), "60");
  EXPECT_EQ(s.source("TRIGGER_SECONDS"), ".env");
  EXPECT_EQ(s.get("KAFKA_BOOTSTRAP_SERVERS"), "localhost:9092");
  EXPECT_EQ(s.source("KAFKA_BOOTSTRAP_SERVERS"), "default");
}

TEST_F(SettingsTest, EmptyEnvironmentVariableCountsAsSet) {
  write_file(".env", "KAFKA_TOPIC=from-file\n");
  env_["KAFKA_TOPIC"] = "";
  Settings s = load_ok({});
  EXPECT_EQ(s.get("KAFKA_TOPIC"), "");
  EXPECT_EQ(s.source("KAFKA_TOPIC"), "environment");
}

TEST_F(SettingsTest, FlagSpellings) {
  EXPECT_EQ(load_ok({"--topic=a"}).get("KAFKA_TOPIC"), "a");
  EXPECT_EQ(load_ok({"--kafka-topic", "b"}).get("KAFKA_TOPIC"), "b");
  EXPECT_EQ(load_ok({"--kafka-topic=c"}).get("KAFKA_TOPIC"), "c");
  EXPECT_EQ(load_ok({"--msgs-per-sec", "9"}).get("MSGS_PER_SEC"), "9");
  EXPECT_EQ(load_ok({"--topic", "x", "--topic", "last"}).get("KAFKA_TOPIC"), "last");
  EXPECT_EQ(load_ok({"--topic="}).get("KAFKA_TOPIC"), "");
  EXPECT_EQ(load_ok({"--rate", "-1"}).get("MSGS_PER_SEC"), "-1");  // a negative number is a value, not a flag
}

TEST_F(SettingsTest, Switches) {
  EXPECT_EQ(load_ok({}).get("ONCE"), "false");
  EXPECT_EQ(load_ok({"--once"}).get("ONCE"), "true");
  EXPECT_EQ(load_ok({"--once=false"}).get("ONCE"), "false");
  // A switch does not swallow the next word.
  Settings s = load_ok({"--once", "--topic", "t"});
  EXPECT_EQ(s.get("ONCE"), "true");
  EXPECT_EQ(s.get("KAFKA_TOPIC"), "t");
}

TEST_F(SettingsTest, RepeatableFlagsKeepEveryValueInOrder) {
  Settings s = load_ok({"--kafka-prop", "acks=all", "--topic", "t", "--kafka-prop=linger.ms=5"});
  EXPECT_EQ(s.get_list("KAFKA_PROP"), (std::vector<std::string>{"acks=all", "linger.ms=5"}));
}

TEST_F(SettingsTest, CommandOnlySettingsIgnoreEnvironmentAndDotEnv) {
  write_file(".env", "COUNT=5\n");
  env_["COUNT"] = "6";
  env_["ONCE"] = "true";
  Settings s = load_ok({});
  EXPECT_EQ(s.get("COUNT"), "0");
  EXPECT_EQ(s.get("ONCE"), "false");
  EXPECT_EQ(load_ok({"--count", "3"}).get("COUNT"), "3");
}

TEST_F(SettingsTest, UnknownNamesInDotEnvAreIgnored) {
  write_file(".env", "OUTPUT_PATH=/x\nKAFKA_TOPIC=t\n");
  EXPECT_EQ(load_ok({}).get("KAFKA_TOPIC"), "t");
}

TEST_F(SettingsTest, EnvFileFlag) {
  write_file("other.env", "KAFKA_TOPIC=other\n");
  write_file(".env", "KAFKA_TOPIC=default-file\n");
  Settings s = load_ok({"--env-file", (dir_ / "other.env").string()});
  EXPECT_EQ(s.get("KAFKA_TOPIC"), "other");
  EXPECT_EQ(s.source("KAFKA_TOPIC"), ".env");
  EXPECT_EQ(load_ok({"--env-file=other.env"}).get("KAFKA_TOPIC"), "other");
}

TEST_F(SettingsTest, MissingEnvFileNamedByFlagIsAnError) {
  EXPECT_THAT(load_error({"--env-file", "missing.env"}), HasSubstr("missing.env"));
}

TEST_F(SettingsTest, MalformedDotEnvIsAnErrorNamingFileAndLine) {
  write_file(".env", "A=1\nB='open\n");
  EXPECT_EQ(load_error({}), ".env:2: the single quote opened here is never closed");
}

TEST_F(SettingsTest, HelpWinsOverEverythingElse) {
  auto r = load({"--bogus", "--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->help_requested());
  EXPECT_TRUE(load_ok({"-h"}).help_requested());
}

TEST_F(SettingsTest, UsageErrors) {
  EXPECT_EQ(load_error({"--foo"}), "unknown flag '--foo' (see 'kpipe produce --help')");
  EXPECT_EQ(load_error({"--foo=1"}), "unknown flag '--foo' (see 'kpipe produce --help')");
  EXPECT_EQ(load_error({"-x"}), "unknown flag '-x' (see 'kpipe produce --help')");
  EXPECT_EQ(load_error({"--topic"}), "flag '--topic' needs a value (see 'kpipe produce --help')");
  EXPECT_EQ(load_error({"--topic", "--rate", "3"}), "flag '--topic' needs a value (see 'kpipe produce --help')");
  EXPECT_EQ(load_error({"events"}), "unexpected argument 'events' (see 'kpipe produce --help')");
  EXPECT_EQ(load_error({"--env-file"}), "flag '--env-file' needs a value (see 'kpipe produce --help')");
}

TEST_F(SettingsTest, DefaultCommandNameInUsageErrors) {
  auto r = Settings::load(specs(), {"--foo"}, [](const std::string&) { return std::nullopt; });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "unknown flag '--foo' (see 'kpipe --help')");
  EXPECT_EQ(r.status().kind(), ErrorKind::kFatal);
}

TEST_F(SettingsTest, GetInt) {
  env_["MSGS_PER_SEC"] = " 42 ";
  auto v = load_ok({}).get_int("MSGS_PER_SEC", 0, 100);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  EXPECT_EQ(load_ok({"--count", "1.5"}).get_int("COUNT", 0, INT64_MAX).status().message(),
            "COUNT='1.5' (from flag --count): must be a whole number >= 0");
  EXPECT_EQ(load_ok({"--count", "500"}).get_int("COUNT", 1, 100).status().message(),
            "COUNT='500' (from flag --count): must be a whole number from 1 to 100");
  EXPECT_EQ(load_ok({"--count", "99999999999999999999"}).get_int("COUNT", 0, INT64_MAX).status().message(),
            "COUNT='99999999999999999999' (from flag --count): must be a whole number >= 0");
}

TEST_F(SettingsTest, GetDoubleErrorsNameSettingValueAndOrigin) {
  const double no_max = std::numeric_limits<double>::max();
  env_["MSGS_PER_SEC"] = "-5";
  EXPECT_EQ(load_ok({}).get_double("MSGS_PER_SEC", 0, no_max).status().message(),
            "MSGS_PER_SEC='-5' (from environment): must be a number >= 0");
  EXPECT_EQ(load_ok({"--rate", "abc"}).get_double("MSGS_PER_SEC", 0, no_max).status().message(),
            "MSGS_PER_SEC='abc' (from flag --rate): must be a number >= 0");
  EXPECT_EQ(load_ok({"--rate=nan"}).get_double("MSGS_PER_SEC", 0, no_max).status().message(),
            "MSGS_PER_SEC='nan' (from flag --rate): must be a number >= 0");
  EXPECT_EQ(load_ok({"--rate", "5x"}).get_double("MSGS_PER_SEC", 0, 10).status().message(),
            "MSGS_PER_SEC='5x' (from flag --rate): must be a number from 0 to 10");
  env_.clear();
  write_file(".env", "# c\nMSGS_PER_SEC=fast   # oops\n");
  EXPECT_EQ(load_ok({}).get_double("MSGS_PER_SEC", 0, no_max).status().message(),
            "MSGS_PER_SEC='fast' (from .env:2): must be a number >= 0");
  auto ok = load_ok({"--rate", "0.5"}).get_double("MSGS_PER_SEC", 0, no_max);
  ASSERT_TRUE(ok.ok());
  EXPECT_DOUBLE_EQ(*ok, 0.5);
}

TEST_F(SettingsTest, GetBool) {
  for (std::string v : {"true", "TRUE", "1", "yes", "Yes", "on"})
    EXPECT_TRUE(*load_ok({"--once=" + v}).get_bool("ONCE")) << v;
  for (std::string v : {"false", "False", "0", "no", "off"})
    EXPECT_FALSE(*load_ok({"--once=" + v}).get_bool("ONCE")) << v;
  EXPECT_EQ(load_ok({"--once=maybe"}).get_bool("ONCE").status().message(),
            "ONCE='maybe' (from flag --once): must be true or false");
}

TEST_F(SettingsTest, GetChoiceIsCaseInsensitiveAndLowerCases) {
  auto v = load_ok({"--topic", "Earliest"}).get_choice("KAFKA_TOPIC", {"earliest", "latest"});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "earliest");
  EXPECT_EQ(load_ok({"--topic", "soon"}).get_choice("KAFKA_TOPIC", {"earliest", "latest"}).status().message(),
            "KAFKA_TOPIC='soon' (from flag --topic): must be one of earliest, latest");
}

TEST_F(SettingsTest, GetNonEmpty) {
  env_["KAFKA_TOPIC"] = "";
  EXPECT_EQ(load_ok({}).get_non_empty("KAFKA_TOPIC").status().message(),
            "KAFKA_TOPIC='' (from environment): must not be empty");
  EXPECT_EQ(load_ok({"--topic", "  "}).get_non_empty("KAFKA_TOPIC").status().message(),
            "KAFKA_TOPIC='  ' (from flag --topic): must not be empty");
  EXPECT_EQ(*load_ok({"--topic", " t "}).get_non_empty("KAFKA_TOPIC"), "t");
}

TEST_F(SettingsTest, DefaultValueErrorsSayDefault) {
  EXPECT_EQ(load_ok({}).get_int("KAFKA_TOPIC", 0, 10).status().message(),
            "KAFKA_TOPIC='events' (default): must be a whole number from 0 to 10");
}

TEST_F(SettingsTest, InvalidFormatsLikeTheGetters) {
  EXPECT_EQ(load_ok({"--topic", "a b"}).invalid("KAFKA_TOPIC", "no spaces").message(),
            "KAFKA_TOPIC='a b' (from flag --topic): no spaces");
}

TEST_F(SettingsTest, UnknownNameIsABug) {
  Settings s = load_ok({});
  EXPECT_THROW(s.get("NOPE"), std::out_of_range);
}

TEST_F(SettingsTest, EffectiveListsEverySettingAndMasksSecrets) {
  env_["SASL_PASSWORD"] = "hunter2";
  Settings s = load_ok({"--kafka-prop", "sasl.password=hunter2", "--kafka-prop", "acks=all", "--topic", "t"});
  auto eff = s.effective();
  ASSERT_EQ(eff.size(), specs().size());
  std::map<std::string, std::string> m(eff.begin(), eff.end());
  EXPECT_EQ(m["KAFKA_TOPIC"], "t");
  EXPECT_EQ(m["KAFKA_PROP"], "sasl.password=***, acks=all");
  EXPECT_EQ(m["SASL_PASSWORD"], "***");
  EXPECT_EQ(eff[0].first, "KAFKA_TOPIC");  // spec order
}

TEST_F(SettingsTest, HelpTextListsFlagsEnvNamesAndDefaults) {
  std::string h = Settings::help_text("Usage: kpipe produce [flags]", specs());
  EXPECT_THAT(h, HasSubstr("Usage: kpipe produce [flags]"));
  EXPECT_THAT(h, HasSubstr("--topic VALUE"));
  EXPECT_THAT(h, HasSubstr("[env KAFKA_TOPIC, default events]"));
  EXPECT_THAT(h, HasSubstr("--trigger-seconds VALUE"));  // no explicit flag: the derived one is shown
  EXPECT_THAT(h, HasSubstr("--kafka-prop VALUE (repeatable)"));
  EXPECT_THAT(h, HasSubstr("--once\n"));
  EXPECT_THAT(h, HasSubstr("--env-file PATH"));
  EXPECT_THAT(h, ::testing::Not(HasSubstr("env COUNT")));
}

}  // namespace
}  // namespace kpipe
