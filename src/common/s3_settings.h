// The settings of object storage, as the AWS tools name them (read by config/stream_options,
// used by storage/s3_file_system).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace kpipe {

struct S3Settings {
  std::string endpoint_url;               // S3_ENDPOINT_URL: "http://127.0.0.1:9000"; "" = AWS
  std::string region;                     // AWS_REGION; "" = the SDK's choice (us-east-1 with an endpoint)
  std::string access_key_id;              // AWS_ACCESS_KEY_ID; "" = the SDK's default credential chain
  std::string secret_access_key;          // AWS_SECRET_ACCESS_KEY
  std::string session_token;              // AWS_SESSION_TOKEN
  std::string profile;                    // AWS_PROFILE: a profile of ~/.aws/credentials and ~/.aws/config
  std::string addressing_style = "auto";  // S3_ADDRESSING_STYLE: auto | path | virtual
  double connect_timeout_s = 5;
};

// "s3://..." (the scheme in any case, so that S3://b is caught by check_s3_uri, not taken for a
// local folder).
bool is_s3_uri(std::string_view path);

// Checks an S3 URI given as a setting: "s3://bucket" or "s3://bucket/prefix" with a valid bucket
// name. The error (kInvalidArgument) names the setting and the value.
Status check_s3_uri(std::string_view setting, std::string_view uri);

}  // namespace kpipe
