// The S3 side of the FileSystem seam, without a server: routing by path, settings errors, and an
// unreachable endpoint classified as retriable with the setting to check. (Against a real
// S3-compatible server: tests/integration/test_s3.py.)
#include "storage/s3_file_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arrow/status.h>

#include <filesystem>
#include <memory>

namespace kpipe {
namespace {

using ::testing::HasSubstr;

class S3FileSystemTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { finalize_s3(); }
};

TEST_F(S3FileSystemTest, LocalPathsGoToTheLocalFileSystemAndNeverStartS3) {
  auto local = std::make_shared<FaultyFileSystem>(local_file_system());
  S3Settings s3;
  s3.endpoint_url = "not a url";  // would fail if the S3 side were opened
  auto fs = routing_file_system(local, s3);
  const auto dir = std::filesystem::temp_directory_path() / "kpipe-routing-test";
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(fs->make_dirs(dir.string()).ok());
  ASSERT_TRUE(fs->write_file((dir / "a").string(), "x").ok());
  EXPECT_EQ(local->calls(FaultyFileSystem::Op::kWriteFile), 1);
  EXPECT_FALSE(fs->is_object_store(dir.string()));
  EXPECT_TRUE(fs->is_object_store("s3://bucket/x"));
  EXPECT_TRUE(fs->exists((dir / "a").string()));
  std::filesystem::remove_all(dir);
}

TEST_F(S3FileSystemTest, BadSettingsNameTheSetting) {
  S3Settings s;
  s.endpoint_url = "127.0.0.1:9000";
  auto r = open_s3_file_system(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("S3_ENDPOINT_URL"));
  s.endpoint_url = "http://127.0.0.1:9000";
  s.addressing_style = "dns";
  r = open_s3_file_system(s);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("S3_ADDRESSING_STYLE"));
  s.addressing_style = "path";
  s.access_key_id = "AKID";
  r = open_s3_file_system(s);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("AWS_SECRET_ACCESS_KEY"));
}

TEST_F(S3FileSystemTest, AnUnreachableEndpointIsRetriableAndSaysWhatToCheck) {
  S3Settings s;
  s.endpoint_url = "http://127.0.0.1:1";
  s.access_key_id = "AKID";
  s.secret_access_key = "secret";
  auto fs = routing_file_system(local_file_system(), s);
  auto put = fs->write_file("s3://bucket/k/file", "bytes");
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(put.is_retriable()) << put.message();
  EXPECT_EQ(put.code(), StatusCode::kUnavailable);
  EXPECT_THAT(put.message(), HasSubstr("s3://bucket/k/file"));
  EXPECT_THAT(put.message(), HasSubstr("check S3_ENDPOINT_URL"));
  auto listed = fs->list_dir("s3://bucket/k");
  ASSERT_FALSE(listed.ok());
  EXPECT_TRUE(listed.status().is_retriable());
  EXPECT_FALSE(fs->exists("s3://bucket/k/file"));
  // An object store has no locks: the checkpoint is held by a fence instead.
  auto lock = fs->lock_exclusive("s3://bucket/cp/lock", "me");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kpipe

namespace kpipe {
namespace {

// Regression: the S3 server killed mid-read gave a NETWORK_CONNECTION error that was called
// "access denied" (fatal, exit 2) because other digits of its text held "403".
TEST(FromS3, AStoreOutOfReachIsRetriableWhateverElseTheTextHolds) {
  const Status st = from_s3(arrow::Status::IOError("When reading information for key 'out/403.json' in bucket 'b': "
                                                   "AWS Error NETWORK_CONNECTION during HeadObject operation: "
                                                   "curlCode: 7, Couldn't connect to server 127.0.0.1:40321"),
                            "reading", "s3://b/out/403.json");
  EXPECT_TRUE(st.is_retriable()) << st.message();
  EXPECT_NE(st.message().find("cannot reach the store; check S3_ENDPOINT_URL"), std::string::npos) << st.message();
}

TEST(FromS3, AccessDeniedIsFatalAndNamesTheCredentials) {
  const Status st = from_s3(arrow::Status::IOError("AWS Error ACCESS_DENIED during PutObject operation: Access Denied"),
                            "uploading", "s3://b/k");
  EXPECT_FALSE(st.is_retriable()) << st.message();
  EXPECT_NE(st.message().find("access denied: check AWS_ACCESS_KEY_ID"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace kpipe
