#include "config/producer_options.h"

#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

using ::testing::HasSubstr;

// Every load uses an explicit empty env file, so the test never depends on the cwd's .env.
Result<ProducerOptions> load(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.push_back("--env-file=/dev/null");
  auto settings = Settings::load("kpipe produce", producer_setting_specs(), args,
                                 [env](const std::string& name) -> std::optional<std::string> {
                                   auto it = env.find(name);
                                   if (it == env.end()) return std::nullopt;
                                   return it->second;
                                 });
  if (!settings.ok()) return settings.status();
  return load_producer_options(*settings);
}

TEST(ProducerOptions, Defaults) {
  auto o = load({});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->bootstrap_servers, "localhost:9092");
  EXPECT_EQ(o->topic, "events");
  EXPECT_EQ(o->rate, 5);
  EXPECT_EQ(o->count, 0);
  EXPECT_EQ(o->duration_seconds, 0);
  EXPECT_EQ(o->input_path, "");
  EXPECT_EQ(o->source, "kpipe-producer");
  EXPECT_EQ(o->timeout_seconds, 30);
  EXPECT_EQ(o->status_addr, "");
  EXPECT_TRUE(o->kafka_props.empty());
}

TEST(ProducerOptions, EveryFlag) {
  auto o = load({"--bootstrap-servers",
                 "b1:9092,b2:9092",
                 "--topic",
                 "t",
                 "--rate",
                 "0",
                 "--count",
                 "10000",
                 "--duration",
                 "2.5",
                 "--input",
                 "-",
                 "--source",
                 "s",
                 "--timeout",
                 "5",
                 "--status-addr",
                 "127.0.0.1:9000",
                 "--kafka-prop",
                 "linger.ms=20",
                 "--kafka-prop",
                 "sasl.jaas.config=a=b"});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->bootstrap_servers, "b1:9092,b2:9092");
  EXPECT_EQ(o->topic, "t");
  EXPECT_EQ(o->rate, 0);
  EXPECT_EQ(o->count, 10000);
  EXPECT_EQ(o->duration_seconds, 2.5);
  EXPECT_EQ(o->input_path, "-");
  EXPECT_EQ(o->source, "s");
  EXPECT_EQ(o->timeout_seconds, 5);
  EXPECT_EQ(o->status_addr, "127.0.0.1:9000");
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(o->kafka_props, (KV{{"linger.ms", "20"}, {"sasl.jaas.config", "a=b"}}));
}

TEST(ProducerOptions, SeedEnvironmentNames) {
  auto o = load({}, {{"KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"}, {"KAFKA_TOPIC", "t2"}, {"MSGS_PER_SEC", "12.5"}});
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->bootstrap_servers, "kafka:9092");
  EXPECT_EQ(o->topic, "t2");
  EXPECT_EQ(o->rate, 12.5);
}

std::string error_of(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  auto o = load(std::move(args), std::move(env));
  EXPECT_FALSE(o.ok());
  return o.ok() ? "" : o.status().message();
}

TEST(ProducerOptions, ErrorMessages) {
  EXPECT_EQ(error_of({"--foo"}), "unknown flag '--foo' (see 'kpipe produce --help')");
  EXPECT_EQ(error_of({"--rate", "abc"}), "MSGS_PER_SEC='abc' (from flag --rate): must be a number >= 0");
  EXPECT_EQ(error_of({"--rate", "-1"}), "MSGS_PER_SEC='-1' (from flag --rate): must be a number >= 0");
  EXPECT_EQ(error_of({}, {{"MSGS_PER_SEC", "-5"}}), "MSGS_PER_SEC='-5' (from environment): must be a number >= 0");
  EXPECT_EQ(error_of({}, {{"KAFKA_TOPIC", ""}}), "KAFKA_TOPIC='' (from environment): must not be empty");
  EXPECT_EQ(error_of({"--topic="}), "KAFKA_TOPIC='' (from flag --topic): must not be empty");
  EXPECT_EQ(error_of({"--bootstrap-servers", ""}),
            "KAFKA_BOOTSTRAP_SERVERS='' (from flag --bootstrap-servers): must not be empty");
  EXPECT_EQ(error_of({"--count", "-3"}), "COUNT='-3' (from flag --count): must be a whole number >= 0");
  EXPECT_EQ(error_of({"--duration", "soon"}), "DURATION='soon' (from flag --duration): must be a number >= 0");
  EXPECT_EQ(error_of({"--timeout", "0"}), "TIMEOUT='0' (from flag --timeout): must be a number from 0.001 to 2000000");
  EXPECT_EQ(error_of({"--kafka-prop", "linger.ms"}),
            "--kafka-prop 'linger.ms': expected key=value, e.g. --kafka-prop security.protocol=SASL_SSL");
}

TEST(ProducerOptions, EffectiveMasksSecrets) {
  auto o = load({"--kafka-prop", "sasl.password=s3cret"});
  ASSERT_TRUE(o.ok());
  std::map<std::string, std::string> m(o->effective.begin(), o->effective.end());
  EXPECT_EQ(m["KAFKA_PROP"], "sasl.password=***");
  EXPECT_EQ(m["MSGS_PER_SEC"], "5");
}

TEST(ProducerOptions, SpecsHaveHelpAndUniqueNames) {
  std::set<std::string> names;
  for (const auto& s : producer_setting_specs()) {
    EXPECT_FALSE(s.help.empty()) << s.name;
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
  }
}

}  // namespace
}  // namespace kpipe
