// The Delta log in process: actions both ways, snapshots from commits and checkpoints, commits
// created only if absent, the retention, the schema check. Readers no one here wrote read the
// same tables in tests/integration/test_delta.py.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <filesystem>

#include "delta/delta_checkpoint.h"
#include "delta/delta_json.h"
#include "delta/delta_log.h"
#include "delta/delta_schema.h"

namespace kpipe {
namespace {

namespace stdfs = std::filesystem;

class DeltaLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (stdfs::temp_directory_path() / ("kpipe-delta-" + std::to_string(::getpid()) + "-" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
                .string();
    stdfs::remove_all(root_);
  }
  void TearDown() override { stdfs::remove_all(root_); }

  static DeltaSnapshot table() {
    DeltaSnapshot s;
    s.version = 0;
    s.metadata.id = "table-id";
    s.metadata.schema_string = R"({"type":"struct","fields":[]})";
    s.metadata.partition_columns = {"dt"};
    s.metadata.configuration = {{"kpipe.queryId", "q1"}};
    s.metadata.created_time = 1700000000000;
    return s;
  }
  static std::string create_actions(const DeltaSnapshot& s) {
    return action_line(s.protocol) + action_line(s.metadata);
  }
  static std::string batch_actions(int64_t batch, const std::string& file) {
    DeltaAdd a;
    a.path = "dt=2025-11-06/" + file;
    a.partition_values = {{"dt", "2025-11-06"}};
    a.size = 100 + batch;
    a.modification_time = 1700000000000 + batch;
    a.stats = R"({"numRecords":3})";
    return commit_info_line(R"({"operation":"STREAMING UPDATE"})") + action_line(DeltaTxn{"q1", batch, 5}) +
           action_line(a);
  }
  void commit(int64_t version, const std::string& actions) {
    ASSERT_TRUE(write_commit(*fs_, root_, version, actions).ok());
  }

  std::shared_ptr<FileSystem> fs_ = local_file_system();
  std::string root_;
};

TEST_F(DeltaLogTest, NoLogIsVersionMinusOne) {
  auto s = load_snapshot(*fs_, root_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->version, -1);
}

TEST_F(DeltaLogTest, CommitsReplayIntoTheSnapshot) {
  commit(0, create_actions(table()));
  commit(1, batch_actions(0, "a.parquet"));
  commit(2, batch_actions(1, "b c.parquet"));
  auto s = load_snapshot(*fs_, root_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->version, 2);
  EXPECT_EQ(s->metadata, table().metadata);
  EXPECT_EQ(s->protocol, DeltaProtocol{});
  EXPECT_EQ(s->txns.at("q1").version, 1);
  ASSERT_EQ(s->files.size(), 2u);
  EXPECT_EQ(s->files.at("dt=2025-11-06/a.parquet").size, 100);
  EXPECT_EQ(s->files.at("dt=2025-11-06/a.parquet").stats, R"({"numRecords":3})");
  EXPECT_EQ(s->files.at("dt=2025-11-06/a.parquet").partition_values.at("dt"), "2025-11-06");
}

TEST_F(DeltaLogTest, SecondWriterOfAVersionGetsAlreadyExists) {
  commit(0, create_actions(table()));
  commit(1, batch_actions(0, "a.parquet"));
  Status st = write_commit(*fs_, root_, 1, batch_actions(0, "other.parquet"));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.message();
  // The same bytes again (an own earlier try whose fsync failed) are fine.
  EXPECT_TRUE(write_commit(*fs_, root_, 1, batch_actions(0, "a.parquet")).ok());
}

TEST_F(DeltaLogTest, CatchUpReadsOtherWritersCommits) {
  commit(0, create_actions(table()));
  auto s = load_snapshot(*fs_, root_);
  ASSERT_TRUE(s.ok());
  commit(1, batch_actions(0, "a.parquet"));
  commit(2, batch_actions(1, "b.parquet"));
  ASSERT_TRUE(catch_up(*fs_, root_, *s).ok());
  EXPECT_EQ(s->version, 2);
  EXPECT_EQ(s->files.size(), 2u);
}

TEST_F(DeltaLogTest, AGapInTheVersionsIsDataLoss) {
  commit(0, create_actions(table()));
  commit(2, batch_actions(1, "b.parquet"));
  auto s = load_snapshot(*fs_, root_);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find("version 1 is missing"), std::string::npos) << s.status().message();
}

TEST_F(DeltaLogTest, RemoveDropsAFileAndOtherActionsAreIgnored) {
  commit(0, create_actions(table()));
  commit(1, batch_actions(0, "a.parquet"));
  commit(2, R"({"remove":{"path":"dt=2025-11-06/a.parquet","deletionTimestamp":1,"dataChange":true}})"
            "\n"
            R"({"domainMetadata":{"domain":"x","configuration":"{}","removed":false}})"
            "\n");
  auto s = load_snapshot(*fs_, root_);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->files.empty());
}

TEST_F(DeltaLogTest, CheckpointRoundTripAndSnapshotStartsThere) {
  commit(0, create_actions(table()));
  for (int v = 1; v <= 10; ++v) commit(v, batch_actions(v - 1, "f" + std::to_string(v) + ".parquet"));
  auto s = load_snapshot(*fs_, root_);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(write_checkpoint(*fs_, root_, *s).ok());
  auto last = parse_last_checkpoint(*fs_->read_file(delta_log_dir(root_) + "/_last_checkpoint"));
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->version, 10);
  EXPECT_EQ(last->num_of_add_files, 10);
  // Without the commits the checkpoint covers, the snapshot comes from the checkpoint alone.
  for (int v = 0; v <= 10; ++v) stdfs::remove(delta_log_dir(root_) + "/" + delta_commit_name(v));
  commit(11, batch_actions(10, "f11.parquet"));
  auto again = load_snapshot(*fs_, root_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->version, 11);
  EXPECT_EQ(again->metadata, s->metadata);
  EXPECT_EQ(again->files.size(), 11u);
  EXPECT_EQ(again->files.at("dt=2025-11-06/f3.parquet"), s->files.at("dt=2025-11-06/f3.parquet"));
  EXPECT_EQ(again->txns.at("q1").version, 10);
}

TEST_F(DeltaLogTest, ExpiredCommitsBelowACheckpointAreRemoved) {
  commit(0, create_actions(table()));
  for (int v = 1; v <= 20; ++v) commit(v, batch_actions(v - 1, "f" + std::to_string(v) + ".parquet"));
  auto s = load_snapshot(*fs_, root_);
  ASSERT_TRUE(s.ok());
  // A checkpoint at 20; commits 0..14 look 40 days old.
  ASSERT_TRUE(write_checkpoint(*fs_, root_, *s).ok());
  const int64_t now_s = ::time(nullptr);
  for (int v = 0; v <= 14; ++v) {
    struct utimbuf old {
      now_s - 40 * 86400, now_s - 40 * 86400
    };
    ::utime((delta_log_dir(root_) + "/" + delta_commit_name(v)).c_str(), &old);
  }
  auto removed = remove_expired_log_files(*fs_, root_, 20, (now_s - 30 * 86400) * 1000);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  // Only checkpoint 20 exists, and commits 15..19 before it are not expired: nothing may go.
  EXPECT_EQ(*removed, 0);
  // With a checkpoint at 10, commits 0..9 can go; 10..14 stay (version 10 starts from there).
  DeltaSnapshot ten;
  for (int v = 0; v <= 10; ++v) {
    ASSERT_TRUE(apply_commit(*fs_->read_file(delta_log_dir(root_) + "/" + delta_commit_name(v)), v, ten, "x").ok());
  }
  ASSERT_TRUE(write_checkpoint(*fs_, root_, ten).ok());
  removed = remove_expired_log_files(*fs_, root_, 20, (now_s - 30 * 86400) * 1000);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 10);
  for (int v = 0; v < 10; ++v) EXPECT_FALSE(fs_->exists(delta_log_dir(root_) + "/" + delta_commit_name(v))) << v;
  for (int v = 10; v <= 20; ++v) EXPECT_TRUE(fs_->exists(delta_log_dir(root_) + "/" + delta_commit_name(v))) << v;
  auto after = load_snapshot(*fs_, root_);
  ASSERT_TRUE(after.ok()) << after.status().message();
  EXPECT_EQ(after->version, 20);
  EXPECT_EQ(after->files.size(), 20u);
}

TEST_F(DeltaLogTest, TablePropertiesRetentionAndInterval) {
  DeltaMetadata m;
  EXPECT_EQ(*log_retention_ms(m), 30LL * 86400 * 1000);
  EXPECT_EQ(*checkpoint_interval(m), 10);
  m.configuration["delta.logRetentionDuration"] = "interval 7 days";
  m.configuration["delta.checkpointInterval"] = "5";
  EXPECT_EQ(*log_retention_ms(m), 7LL * 86400 * 1000);
  EXPECT_EQ(*checkpoint_interval(m), 5);
  m.configuration["delta.logRetentionDuration"] = "interval 12 hours";
  EXPECT_EQ(*log_retention_ms(m), 12LL * 3600 * 1000);
  m.configuration["delta.logRetentionDuration"] = "forever";
  auto bad = log_retention_ms(m);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("delta.logRetentionDuration='forever'"), std::string::npos);
}

TEST_F(DeltaLogTest, LogPathsArePercentEncoded) {
  EXPECT_EQ(encode_log_path("dt=2025-11-06/part-1a-00000-000.snappy.parquet"),
            "dt=2025-11-06/part-1a-00000-000.snappy.parquet");
  EXPECT_EQ(encode_log_path("dt=x/a b%c#.parquet"), "dt=x/a%20b%25c%23.parquet");
}

Schema schema_of(const std::string& ddl) {
  auto s = parse_ddl(ddl);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return *s;
}

std::vector<DeltaField> fields_of(const std::string& ddl) {
  auto str = delta_schema_string(schema_of(ddl));
  EXPECT_TRUE(str.ok()) << str.status().message();
  auto f = parse_delta_schema(*str, "test");
  EXPECT_TRUE(f.ok()) << f.status().message();
  return *f;
}

TEST(DeltaSchemaTest, SchemaStringHasTheColumnsThenDt) {
  auto s = delta_schema_string(schema_of("id STRING NOT NULL, n BIGINT, ts TIMESTAMP, d DATE, ok BOOLEAN, f FLOAT"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, R"({"type":"struct","fields":[{"name":"id","type":"string","nullable":false,"metadata":{}},)"
                R"({"name":"n","type":"long","nullable":true,"metadata":{}},)"
                R"({"name":"ts","type":"timestamp","nullable":true,"metadata":{}},)"
                R"({"name":"d","type":"date","nullable":true,"metadata":{}},)"
                R"({"name":"ok","type":"boolean","nullable":true,"metadata":{}},)"
                R"({"name":"f","type":"float","nullable":true,"metadata":{}},)"
                R"({"name":"dt","type":"date","nullable":true,"metadata":{}}]})");
  auto dt = delta_schema_string(schema_of("DT STRING, ts TIMESTAMP"));
  ASSERT_FALSE(dt.ok());
  EXPECT_EQ(dt.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dt.status().message().find("column 'DT'"), std::string::npos);
}

TEST(DeltaSchemaTest, NestedTypesAreSparksStructTypeJson) {
  auto s = delta_schema_string(schema_of(
      "u STRUCT<id: BIGINT NOT NULL, tags: ARRAY<STRING>> COMMENT 'who', p DECIMAL(10,2), m MAP<STRING, BINARY>"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(*s, R"js({"type":"struct","fields":[{"name":"u","type":{"type":"struct","fields":[)js"
                R"js({"name":"id","type":"long","nullable":false,"metadata":{}},)js"
                R"js({"name":"tags","type":{"type":"array","elementType":"string","containsNull":true},)js"
                R"js("nullable":true,"metadata":{}}]},"nullable":true,"metadata":{"comment":"who"}},)js"
                R"js({"name":"p","type":"decimal(10,2)","nullable":true,"metadata":{}},)js"
                R"js({"name":"m","type":{"type":"map","keyType":"string","valueType":"binary",)js"
                R"js("valueContainsNull":true},"nullable":true,"metadata":{}},)js"
                R"js({"name":"dt","type":"date","nullable":true,"metadata":{}}]})js");
  EXPECT_FALSE(needs_timestamp_ntz(schema_of("a TIMESTAMP, b ARRAY<DATE>").columns));
  EXPECT_TRUE(needs_timestamp_ntz(schema_of("a TIMESTAMP, b ARRAY<STRUCT<c: TIMESTAMP_NTZ>>").columns));
  // A nested type changed is incompatible, and the message says where.
  auto change = compare_schemas(fields_of("u STRUCT<a: INT>"), fields_of("u STRUCT<a: STRING>"));
  EXPECT_FALSE(change.compatible);
  EXPECT_NE(change.reason.find("column u is"), std::string::npos) << change.reason;
}

TEST(DeltaSchemaTest, CompatibleChangesAndIncompatibleOnes) {
  const auto table = fields_of("a STRING, b BIGINT");
  EXPECT_TRUE(compare_schemas(table, fields_of("a STRING, b BIGINT")).added.empty());
  auto wider = compare_schemas(table, fields_of("a STRING, c DOUBLE, b BIGINT"));
  ASSERT_TRUE(wider.compatible) << wider.reason;
  EXPECT_EQ(wider.added, std::vector<std::string>{"c"});
  auto merged = parse_delta_schema(wider.merged_schema_string, "merged");
  ASSERT_TRUE(merged.ok());
  ASSERT_EQ(merged->size(), 4u);
  EXPECT_EQ((*merged)[2].name, "dt");
  EXPECT_EQ((*merged)[3].name, "c");

  auto type = compare_schemas(table, fields_of("a STRING, b STRING"));
  EXPECT_FALSE(type.compatible);
  EXPECT_NE(type.reason.find("column b is \"long\" in the table and \"string\""), std::string::npos) << type.reason;
  EXPECT_NE(type.reason.find("table: a string, b long, dt date; SCHEMA: a string, b string, dt date"),
            std::string::npos)
      << type.reason;
  EXPECT_FALSE(compare_schemas(table, fields_of("a STRING")).compatible);
  EXPECT_FALSE(compare_schemas(table, fields_of("a STRING, b BIGINT, c INT NOT NULL")).compatible);
  EXPECT_TRUE(compare_schemas(table, fields_of("A STRING, b BIGINT NOT NULL")).compatible);
  EXPECT_FALSE(compare_schemas(fields_of("a STRING NOT NULL"), fields_of("a STRING")).compatible);
}

}  // namespace
}  // namespace kpipe
