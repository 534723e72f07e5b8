#include "common/s3_settings.h"

#include <cctype>

namespace kpipe {
namespace {

constexpr std::string_view kScheme = "s3://";

bool valid_bucket_name(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::islower(u) || std::isdigit(u) || c == '-' || c == '.')) return false;
  }
  return std::isalnum(static_cast<unsigned char>(b.front())) && std::isalnum(static_cast<unsigned char>(b.back()));
}

}  // namespace

bool is_s3_uri(std::string_view path) {
  if (path.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(path[i])) != kScheme[i]) return false;
  }
  return true;
}

Status check_s3_uri(std::string_view setting, std::string_view uri) {
  auto bad = [&](const std::string& why) {
    return Status::fatal(std::string(setting) + "='" + std::string(uri) + "': " + why, StatusCode::kInvalidArgument);
  };
  if (uri.substr(0, kScheme.size()) != kScheme) return bad("write the scheme in lower case: s3://bucket/prefix");
  std::string_view rest = uri.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const std::string_view bucket = rest.substr(0, rest.find('/'));
  if (bucket.empty()) return bad("name a bucket: s3://bucket/prefix");
  if (!valid_bucket_name(bucket)) {
    return bad("'" + std::string(bucket) + "' is not a valid bucket name (3-63 characters of a-z, 0-9, '-', '.')");
  }
  if (rest.find("//") != std::string_view::npos) return bad("an empty path segment ('//')");
  return Status::success();
}

}  // namespace kpipe
