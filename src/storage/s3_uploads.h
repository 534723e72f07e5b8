// The S3 requests Arrow's S3 file system cannot make: listing and aborting unfinished multipart
// uploads, and a conditional PutObject (create if absent).
//
// A large file is a multipart upload, completed at the end (then visible whole) or aborted on a
// failure (Arrow's Abort()). A process killed in between leaves an upload that no reader sees but
// the store keeps (and bills) until someone aborts it. kpipe aborts its own at start: it lists the
// uploads below each S3 sink root with ListMultipartUploads and aborts those whose file name is one
// of this query's (part-<query8>-...), and nothing else — another writer's uploads under the same
// prefix are not ours to touch.
//
// The requests are signed with AWS Signature Version 4 here (OpenSSL's HMAC-SHA256) and sent
// with cpp-httplib; the credentials are those Arrow's S3 options resolve (explicit keys, profile,
// SSO, instance role), so both paths use the same identity.
#pragma once

#include <arrow/filesystem/s3fs.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kpipe {

struct UnfinishedUpload {
  std::string key;
  std::string upload_id;
};

// The request to sign, as it goes on the wire. `query` is the raw (unencoded) parameters.
struct SignedRequest {
  std::string method;                        // "GET", "DELETE"
  std::string host;                          // "127.0.0.1:9000", "b.s3.eu-west-1.amazonaws.com"
  std::string path;                          // "/bucket/key" or "/key", unencoded
  std::map<std::string, std::string> query;  // {"uploads", ""}, {"prefix", "a/b/"}
  std::string amz_date;                      // "20261203T063000Z"
  std::string region;
  std::string access_key, secret_key, session_token;
  std::string payload_hash;                    // hex SHA-256 of the body; "" = an empty body
  std::map<std::string, std::string> headers;  // more headers to sign and send, lower-case names
};

// What goes on the wire: the encoded path?query and the headers, Authorization included.
struct SignedParts {
  std::string target;  // "/bucket?prefix=a%2Fb%2F&uploads="
  std::map<std::string, std::string> headers;
};

// AWS Signature Version 4 of `r` for service s3.
SignedParts sign_v4(const SignedRequest& r);

// The uploads of ListMultipartUploads' XML answer, and its continuation markers ("" when done).
struct UploadListing {
  std::vector<UnfinishedUpload> uploads;
  std::string next_key_marker, next_upload_id_marker;
};
Result<UploadListing> parse_upload_listing(std::string_view xml);

// Lists the unfinished uploads below `prefix` of `bucket` and aborts those whose last path
// component starts with `name_prefix`. Returns how many it aborted. Errors as the S3 file
// system's: unreachable → retriable; denied → fatal.
Result<int> abort_unfinished_uploads(const arrow::fs::S3Options& options, const std::string& bucket,
                                     const std::string& prefix, std::string_view name_prefix);

// PutObject of `bytes` at `key` with `If-None-Match: *`: created only if no object has the key
// (what AWS S3 has done since 2024-08, and MinIO, R2, GCS and S3Proxy do). kAlreadyExists when one
// has it; kUnimplemented when the store says it cannot make the request conditional; 409 (a
// concurrent conditional write) is retriable. arrow::fs cannot send the header (apache/arrow#44281).
Status put_if_absent(const arrow::fs::S3Options& options, const std::string& bucket, const std::string& key,
                     std::string_view bytes);

}  // namespace kpipe
