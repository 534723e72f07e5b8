// The two S3 requests Arrow lacks: their SigV4 signature (AWS's published examples) and the
// parsing of ListMultipartUploads' answer. Against a real server: tests/integration/test_s3.py.
#include "storage/s3_uploads.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kpipe {
namespace {

using ::testing::HasSubstr;

SignedRequest aws_example() {
  // The example of the S3 API reference ("Signature Calculations for the Authorization Header:
  // Transferring Payload in a Single Chunk", bucket examplebucket, 2013-05-24).
  SignedRequest r;
  r.method = "GET";
  r.host = "examplebucket.s3.amazonaws.com";
  r.path = "/";
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  r.access_key = "AKIAIOSFODNN7EXAMPLE";
  r.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  return r;
}

TEST(SignV4, MatchesAwsExampleGetBucketLifecycle) {
  SignedRequest r = aws_example();
  r.query = {{"lifecycle", ""}};
  SignedParts p = sign_v4(r);
  EXPECT_EQ(p.target, "/?lifecycle=");
  EXPECT_EQ(p.headers["Authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
            "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  EXPECT_EQ(p.headers["x-amz-content-sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SignV4, MatchesAwsExampleListObjects) {
  SignedRequest r = aws_example();
  r.query = {{"max-keys", "2"}, {"prefix", "J"}};
  SignedParts p = sign_v4(r);
  EXPECT_EQ(p.target, "/?max-keys=2&prefix=J");
  EXPECT_THAT(p.headers["Authorization"],
              HasSubstr("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
}

TEST(SignV4, EncodesKeysAndSignsTheSessionToken) {
  SignedRequest r = aws_example();
  r.method = "DELETE";
  r.path = "/bucket/out/parquet/dt=2025-11-06/part a+b.parquet";
  r.query = {{"uploadId", "x/y=z"}};
  r.session_token = "token";
  SignedParts p = sign_v4(r);
  EXPECT_EQ(p.target, "/bucket/out/parquet/dt%3D2025-11-06/part%20a%2Bb.parquet?uploadId=x%2Fy%3Dz");
  EXPECT_EQ(p.headers["x-amz-security-token"], "token");
  EXPECT_THAT(p.headers["Authorization"], HasSubstr("SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                                                    "x-amz-security-token"));
  EXPECT_EQ(p.headers.count("host"), 0u) << "httplib writes Host itself";
}

TEST(UploadListing, ReadsUploadsAndContinuation) {
  auto r = parse_upload_listing(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>out/a&amp;b</NextKeyMarker><NextUploadIdMarker>id-2</NextUploadIdMarker>
  <IsTruncated>true</IsTruncated>
  <Upload><Key>out/dt=2025-11-06/part-1a2b3c4d-00001-000.snappy.parquet</Key><UploadId>id-1</UploadId></Upload>
  <Upload><Key>out/a&amp;b &#233;</Key><UploadId>id-2</UploadId></Upload>
</ListMultipartUploadsResult>)");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->uploads.size(), 2u);
  EXPECT_EQ(r->uploads[0].key, "out/dt=2025-11-06/part-1a2b3c4d-00001-000.snappy.parquet");
  EXPECT_EQ(r->uploads[0].upload_id, "id-1");
  EXPECT_EQ(r->uploads[1].key, "out/a&b \xC3\xA9");
  EXPECT_EQ(r->next_key_marker, "out/a&b");
  EXPECT_EQ(r->next_upload_id_marker, "id-2");
  auto done = parse_upload_listing(
      "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>"
      "</ListMultipartUploadsResult>");
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->uploads.empty());
  EXPECT_EQ(done->next_key_marker, "");
  EXPECT_FALSE(parse_upload_listing("<Error><Code>AccessDenied</Code></Error>").ok());
}

// Both ways kpipe talks to S3 (Arrow's file system and these requests) say the same thing when
// nothing answers, so a person (and a log search) sees one message naming the setting.
TEST(PutIfAbsent, AStoreOutOfReachIsRetriableAndNamesTheSetting) {
  arrow::fs::S3Options o = arrow::fs::S3Options::FromAccessKey("key", "secret");
  o.scheme = "http";
  o.endpoint_override = "127.0.0.1:1";  // nothing listens on port 1
  o.region = "us-east-1";
  const Status st = put_if_absent(o, "b", "out/_checkpoint/commits/0", "{}");
  EXPECT_TRUE(st.is_retriable()) << st.message();
  EXPECT_THAT(st.message(), HasSubstr("cannot reach the store; check S3_ENDPOINT_URL")) << st.message();
}

}  // namespace
}  // namespace kpipe
