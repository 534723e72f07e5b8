// Object storage: the FileSystem seam over Arrow's S3 file system (arrow::fs::S3FileSystem, in the
// Arrow C++ kpipe links anyway), for OUTPUT_PATH, CSV_OUTPUT_PATH, DEAD_LETTER_PATH and
// CHECKPOINT_PATH given as s3://bucket/prefix.
//
// What S3 gives and what it does not, and how the pipeline lives with it:
//   - An upload is visible whole or not at all (PutObject, or CompleteMultipartUpload for a large
//     one). A failed upload is aborted (AbortMultipartUpload), so nothing partial is left.
//   - No rename: files are uploaded under their final names (is_object_store() is true), and a
//     batch becomes visible to table readers by its Delta commit.
//   - No conditional put through arrow::fs (apache/arrow#44281) and no locks: create-if-absent is
//     "look, then upload", and one writer per checkpoint is kept by a Kafka fence (writer_fence.h).
//   - No directories: make_dirs and fsync_dir do nothing; list_dir lists the keys under "dir/".
//
// Credentials and endpoint follow the AWS tools: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN, AWS_REGION, AWS_PROFILE and the credentials file (the AWS SDK's default
// chain when no key is given), plus S3_ENDPOINT_URL for S3-compatible stores.
//
// Errors name the URI and say what to fix; those worth retrying (the store unreachable, throttled,
// a 5xx) are retriable, as for the broker: the trigger loop tries again with back-off.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/s3_settings.h"
#include "common/status.h"

namespace arrow {
class Status;
}

namespace kpipe {

// A FileSystem whose paths are s3:// URIs. Initialises Arrow's S3 support once per process
// (finalize_s3() before exit). A bad setting (S3_ADDRESSING_STYLE, an endpoint URL without
// http:// or https://) is kInvalidArgument naming it.
Result<std::shared_ptr<FileSystem>> open_s3_file_system(const S3Settings& settings);

// Routes s3:// paths to `s3` (opened on first use by `open_s3`, so a job without an S3 path never
// starts the AWS SDK) and every other path to `local`.
std::shared_ptr<FileSystem> routing_file_system(std::shared_ptr<FileSystem> local, S3Settings s3);

// Before the process exits, when S3 was used (the AWS SDK must be shut down explicitly).
void finalize_s3();

// Checks that `uri`'s bucket exists and the credentials may list it: a clear error now, at
// start-up, instead of at the first batch. Unreachable endpoint → retriable; wrong key, missing
// bucket, access denied → kInvalidArgument (the CLI exits 2).
Status check_s3_access(FileSystem& fs, const std::string& uri, std::string_view setting);

// An Arrow S3 error as a Status: what a person must fix (no bucket, refused or expired
// credentials, access denied) is fatal with the setting to check; the store out of reach,
// throttling or a 5xx is retriable. `op` and `uri` start the message ("reading s3://b/k: ").
Status from_s3(const arrow::Status& st, std::string_view op, std::string_view uri);

}  // namespace kpipe
