// The object-storage settings of `kpipe stream`: s3:// paths, the AWS names, their errors.
#include "config/stream_options.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/s3_settings.h"

namespace kpipe {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class StreamOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // An empty .env of our own, so a developer's ./.env never leaks in.
    env_file_ = std::filesystem::temp_directory_path() / ("kpipe-stream-options-" + std::to_string(::getpid()));
    std::ofstream(env_file_) << "";
  }
  void TearDown() override { std::filesystem::remove(env_file_); }

  Result<StreamOptions> load() {
    auto settings = Settings::load("kpipe stream", stream_setting_specs(), {"--env-file", env_file_.string()},
                                   [this](const std::string& name) -> std::optional<std::string> {
                                     auto it = env_.find(name);
                                     if (it == env_.end()) return std::nullopt;
                                     return it->second;
                                   });
    if (!settings.ok()) return settings.status();
    return load_stream_options(*settings);
  }
  std::string error() {
    auto r = load();
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }

  std::filesystem::path env_file_;
  std::map<std::string, std::string> env_;
};

TEST_F(StreamOptionsTest, S3PathsAreKeptAndTheCsvRootGoesBesideTheParquetOne) {
  env_["OUTPUT_PATH"] = "s3://lake/events/parquet/";
  env_["CHECKPOINT_PATH"] = "s3://lake/events/_checkpoint";
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->output_path, "s3://lake/events/parquet");
  EXPECT_EQ(o->csv_output_path, "s3://lake/events/csv");
  EXPECT_EQ(o->checkpoint_path, "s3://lake/events/_checkpoint");
  EXPECT_EQ(o->dead_letter_path, "data/output/_dead_letter");
}

TEST_F(StreamOptionsTest, LocalPathsLoseTheirTrailingSlash) {
  env_["OUTPUT_PATH"] = "out/parquet/";
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->output_path, "out/parquet");
  EXPECT_EQ(o->csv_output_path, "out/csv");
}

TEST_F(StreamOptionsTest, DirectIoIsOnUnlessSetToFalseAndABadValueNamesIt) {
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_TRUE(o->direct_io);
  env_["DIRECT_IO"] = "false";
  o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_FALSE(o->direct_io);
  env_["DIRECT_IO"] = "sometimes";
  EXPECT_THAT(error(), HasSubstr("DIRECT_IO"));
}

TEST_F(StreamOptionsTest, ABadS3UriNamesTheSettingAndWhatIsWrong) {
  env_["OUTPUT_PATH"] = "s3://Lake_Bucket/x";
  EXPECT_THAT(error(), HasSubstr("OUTPUT_PATH='s3://Lake_Bucket/x': 'Lake_Bucket' is not a valid bucket name"));
  env_["OUTPUT_PATH"] = "S3://lake/x";
  EXPECT_THAT(error(), HasSubstr("lower case"));
  env_["OUTPUT_PATH"] = "out/parquet";
  env_["CHECKPOINT_PATH"] = "s3://";
  EXPECT_THAT(error(), HasSubstr("CHECKPOINT_PATH='s3://': name a bucket"));
  env_["CHECKPOINT_PATH"] = "s3://lake//cp";
  EXPECT_THAT(error(), HasSubstr("empty path segment"));
}

TEST_F(StreamOptionsTest, ABucketRootNeedsAnExplicitCsvRoot) {
  env_["OUTPUT_PATH"] = "s3://lake";
  EXPECT_THAT(error(), HasSubstr("CSV_OUTPUT_PATH"));
  env_["SINKS"] = "parquet";  // no CSV: nothing to ask for
  ASSERT_TRUE(load().ok());
  env_.erase("SINKS");
  env_["CSV_OUTPUT_PATH"] = "s3://lake-csv";
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->csv_output_path, "s3://lake-csv");
}

TEST_F(StreamOptionsTest, TheAwsSettingsAreReadUnderTheirUsualNames) {
  env_["S3_ENDPOINT_URL"] = "http://127.0.0.1:9000";
  env_["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
  env_["AWS_SECRET_ACCESS_KEY"] = "wJalrXUtnFEMI";
  env_["AWS_SESSION_TOKEN"] = "FwoGZXIvYXdzE";
  env_["AWS_REGION"] = "eu-west-1";
  env_["S3_ADDRESSING_STYLE"] = "Virtual";
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->s3.endpoint_url, "http://127.0.0.1:9000");
  EXPECT_EQ(o->s3.access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(o->s3.secret_access_key, "wJalrXUtnFEMI");
  EXPECT_EQ(o->s3.session_token, "FwoGZXIvYXdzE");
  EXPECT_EQ(o->s3.region, "eu-west-1");
  EXPECT_EQ(o->s3.addressing_style, "virtual");
  // What the status page and /api/status show: never the secrets.
  std::string shown;
  for (const auto& [name, value] : o->effective) shown += name + "=" + value + "\n";
  EXPECT_THAT(shown, Not(HasSubstr("wJalrXUtnFEMI")));
  EXPECT_THAT(shown, Not(HasSubstr("FwoGZXIvYXdzE")));
  EXPECT_THAT(shown, HasSubstr("AWS_ACCESS_KEY_ID=AKIDEXAMPLE"));
}

TEST_F(StreamOptionsTest, AKeyWithoutItsSecretOrAnEndpointWithoutSchemeIsRefused) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDEXAMPLE";
  EXPECT_THAT(error(), HasSubstr("AWS_SECRET_ACCESS_KEY"));
  env_["AWS_SECRET_ACCESS_KEY"] = "s";
  env_["S3_ENDPOINT_URL"] = "127.0.0.1:9000";
  EXPECT_THAT(error(), HasSubstr("S3_ENDPOINT_URL"));
  env_["S3_ENDPOINT_URL"] = "http://127.0.0.1:9000";
  env_["S3_ADDRESSING_STYLE"] = "dns";
  EXPECT_THAT(error(), HasSubstr("S3_ADDRESSING_STYLE"));
}

TEST(S3Uri, RecognisesTheSchemeInAnyCase) {
  EXPECT_TRUE(is_s3_uri("s3://b/k"));
  EXPECT_TRUE(is_s3_uri("S3://b/k"));
  EXPECT_FALSE(is_s3_uri("s3:/b/k"));
  EXPECT_FALSE(is_s3_uri("data/s3://x"));
  EXPECT_TRUE(check_s3_uri("X", "s3://my.bucket-1/a/b").ok());
  EXPECT_FALSE(check_s3_uri("X", "s3://ab").ok());
  EXPECT_FALSE(check_s3_uri("X", "s3://-abc").ok());
}

TEST_F(StreamOptionsTest, DtCompleteAfterTakesDurationsAndIsOffByDefault) {
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->dt_complete_after_seconds, 0);
  for (auto [text, seconds] : std::vector<std::pair<std::string, int64_t>>{{"30m", 1800},
                                                                           {"1h", 3600},
                                                                           {"2h30m", 9000},
                                                                           {"1d", 86400},
                                                                           {"90s", 90},
                                                                           {"45", 45},
                                                                           {" 1H ", 3600},
                                                                           {"0", 0},
                                                                           {"off", 0},
                                                                           {"1 hour", 3600},
                                                                           {"10 minutes", 600},
                                                                           {"1 hour 30 minutes", 5400},
                                                                           {"2 Days", 172800},
                                                                           {"60min", 3600},
                                                                           {"1h 30m", 5400},
                                                                           {"45 seconds", 45},
                                                                           {"", 0}}) {
    env_["DT_COMPLETE_AFTER"] = text;
    auto r = load();
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().message();
    EXPECT_EQ(r->dt_complete_after_seconds, seconds) << text;
  }
  for (const char* bad : {"1 hourly", "-1h", "1h30", "h", "1w", "400d", "1.5h", "1 fortnight", "hour", "1h 30"}) {
    env_["DT_COMPLETE_AFTER"] = bad;
    EXPECT_THAT(error(), HasSubstr("DT_COMPLETE_AFTER")) << bad;
  }
}

TEST_F(StreamOptionsTest, MaxBatchBytesTakesBinaryUnitsAndIs16MiBByDefault) {
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->max_batch_bytes, int64_t{16} << 20);
  for (auto [text, bytes] : std::vector<std::pair<std::string, int64_t>>{{"64m", int64_t{64} << 20},
                                                                         {"2 MiB", int64_t{2} << 20},
                                                                         {"8MB", int64_t{8} << 20},
                                                                         {"1g", int64_t{1} << 30},
                                                                         {"4096 KiB", int64_t{4} << 20},
                                                                         {"1048576", int64_t{1} << 20},
                                                                         {" 16m ", int64_t{16} << 20}}) {
    env_["MAX_BATCH_BYTES"] = text;
    auto r = load();
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().message();
    EXPECT_EQ(r->max_batch_bytes, bytes) << text;
  }
  for (const char* bad : {"512k", "1000", "-1m", "1.5m", "1t", "m", "", "64 megabytes", "99999999999g"}) {
    env_["MAX_BATCH_BYTES"] = bad;
    EXPECT_THAT(error(), HasSubstr("MAX_BATCH_BYTES='")) << bad;
  }
}

TEST_F(StreamOptionsTest, ABadSchemaIsAUsageErrorNamingTheFieldAndPosition) {
  env_["SCHEMA"] = "id STRING, user STRUCT<id: INT, tags: ARRAY<STRNG>>";
  const std::string e = error();
  EXPECT_THAT(e, HasSubstr("SCHEMA='id STRING, user STRUCT<id: INT, tags: ARRAY<STRNG>>' (from environment): "
                           "unknown type 'STRNG' for field 'user.tags.element' at position 45"));
  EXPECT_THAT(e, Not(HasSubstr("SCHEMA: SCHEMA")));
  env_["SCHEMA"] = "id STRING, ts TIMESTAMP, price DECIMAL(10,2), m MAP<STRING, ARRAY<INT>>";
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->schema, env_["SCHEMA"]);  // as written: a checkpoint's recorded SCHEMA stays comparable
}

TEST_F(StreamOptionsTest, SchemaFileTakesSparksJsonOrDdlAndBecomesCanonicalDdl) {
  const auto file = env_file_.string() + ".schema";
  std::ofstream(file)
      << R"js({"type":"struct","fields":[{"name":"ts","type":"timestamp","nullable":true,"metadata":{}},)js"
      << R"js({"name":"items","type":{"type":"array","elementType":{"type":"struct","fields":[)js"
      << R"js({"name":"price","type":"decimal(10,2)","nullable":false,"metadata":{}}]},)js"
      << R"js("containsNull":true},"nullable":true,"metadata":{"comment":"the cart"}}]})js";
  env_["SCHEMA_FILE"] = file;
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->schema, "ts TIMESTAMP, items ARRAY<STRUCT<price: DECIMAL(10,2) NOT NULL>> COMMENT 'the cart'");
  std::ofstream(file) << "\n  ts TIMESTAMP, `a b` MAP<STRING, BINARY>\n";
  o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->schema, "ts TIMESTAMP, `a b` MAP<STRING, BINARY>");
  std::ofstream(file) << R"({"type":"struct","fields":[{"name":"ts","type":"timestamp"},{"name":"x","type":"uuid"}]})";
  EXPECT_THAT(error(), HasSubstr("SCHEMA_FILE=" + file + ": field 'x' has the unknown or unsupported type 'uuid'"));
  std::ofstream(file) << "ts TIMESTAMP, x STRUCT<a INT";
  EXPECT_THAT(error(), HasSubstr("SCHEMA_FILE='" + file + "' (from environment): expected '>' to close the STRUCT"));
  std::ofstream(file) << "  \n";
  EXPECT_THAT(error(), HasSubstr("SCHEMA_FILE='" + file + "' (from environment): is empty"));
  env_["SCHEMA"] = "a INT";
  EXPECT_THAT(error(), HasSubstr("is set and so is SCHEMA (from environment); keep one of them"));
  env_.erase("SCHEMA");
  std::filesystem::remove(file);
  EXPECT_THAT(error(), HasSubstr("SCHEMA_FILE='" + file + "' (from environment): cannot be read: No such file"));
}

// KAFKA_COLUMNS is off by default and kept as given: make_decoding validates it with SCHEMA.
TEST_F(StreamOptionsTest, KafkaColumnsAreNoneByDefault) {
  auto o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->kafka_columns, "");
  EXPECT_EQ(o->partition_from, "ts");
  env_["KAFKA_COLUMNS"] = "key, headers";
  env_["PARTITION_FROM"] = "timestamp";
  o = load();
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->kafka_columns, "key, headers");
  EXPECT_EQ(o->partition_from, "timestamp");
}

}  // namespace
}  // namespace kpipe
