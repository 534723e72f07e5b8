#include "storage/s3_file_system.h"

#include <arrow/buffer.h>
#include <arrow/filesystem/s3fs.h>
#include <arrow/io/interfaces.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/strings.h"
#include "storage/s3_uploads.h"

namespace kpipe {
namespace {

constexpr std::string_view kScheme = "s3://";

std::mutex g_s3_mutex;
bool g_s3_initialized = false;

Status ensure_s3_initialized() {
  std::lock_guard lock(g_s3_mutex);
  if (g_s3_initialized) return Status::success();
  arrow::fs::S3GlobalOptions global = arrow::fs::S3GlobalOptions::Defaults();
  global.log_level = arrow::fs::S3LogLevel::Fatal;
  arrow::Status st = arrow::fs::InitializeS3(global);
  if (!st.ok()) return Status::fatal("initialising S3 support (Arrow): " + st.ToString());
  g_s3_initialized = true;
  return Status::success();
}

// "s3://bucket/key" → "bucket/key", Arrow's path; trailing slashes dropped.
std::string arrow_path(std::string_view uri) {
  std::string p(uri.substr(kScheme.size()));
  while (!p.empty() && p.back() == '/') p.pop_back();
  return p;
}

bool contains(std::string_view text, std::string_view word) { return text.find(word) != std::string_view::npos; }

class S3FileSystemAdapter : public FileSystem {
 public:
  S3FileSystemAdapter(std::shared_ptr<arrow::fs::S3FileSystem> fs, arrow::fs::S3Options options)
      : fs_(std::move(fs)), options_(std::move(options)) {}

  Status write_file(const std::string& path, std::string_view bytes) override {
    auto opened = fs_->OpenOutputStream(arrow_path(path), nullptr);
    if (!opened.ok()) return from_s3(opened.status(), "uploading", path);
    std::shared_ptr<arrow::io::OutputStream> out = *opened;
    arrow::Status st = out->Write(bytes.data(), static_cast<int64_t>(bytes.size()));
    if (st.ok()) st = out->Close();
    if (!st.ok()) {
      // Never let the stream's destructor complete a part-written upload: abort it, so the name
      // stays as it was (AbortMultipartUpload for a multipart one).
      (void)out->Abort();
      return from_s3(st, "uploading", path);
    }
    return Status::success();
  }

  Status rename(const std::string& from, const std::string& to) override {
    // Copy and delete: not atomic. The pipeline never renames on an object store.
    arrow::Status st = fs_->Move(arrow_path(from), arrow_path(to));
    return st.ok() ? Status::success() : from_s3(st, "moving " + from + " to", to);
  }

  Status rename_no_replace(const std::string& from, const std::string& to) override {
    if (exists(to)) return Status::fatal("creating " + to + ": it exists already", StatusCode::kAlreadyExists);
    return rename(from, to);
  }

  Result<std::unique_ptr<FileLock>> lock_exclusive(const std::string& path, std::string_view) override {
    return Status::fatal("locking " + path + ": an object store has no locks", StatusCode::kUnavailable);
  }

  Status fsync_dir(const std::string&) override { return Status::success(); }

  Status remove(const std::string& path) override {
    const std::string p = arrow_path(path);
    auto info = fs_->GetFileInfo(p);
    if (!info.ok()) return from_s3(info.status(), "removing", path);
    if (info->type() == arrow::fs::FileType::NotFound) return Status::success();
    if (info->type() == arrow::fs::FileType::Directory) {
      // As rmdir(2): only an empty one (Arrow's DeleteDir would take everything below it).
      arrow::fs::FileSelector sel;
      sel.base_dir = p;
      auto below = fs_->GetFileInfo(sel);
      if (!below.ok()) return from_s3(below.status(), "removing", path);
      if (!below->empty()) return Status::fatal("removing " + path + ": not empty");
      arrow::Status st = fs_->DeleteDir(p);
      return st.ok() ? Status::success() : from_s3(st, "removing", path);
    }
    arrow::Status st = fs_->DeleteFile(p);
    return st.ok() ? Status::success() : from_s3(st, "removing", path);
  }

  // Keys need no parent directories; creating marker objects would only add requests.
  Status make_dirs(const std::string&) override { return Status::success(); }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    arrow::fs::FileSelector sel;
    sel.base_dir = arrow_path(dir);
    sel.allow_not_found = true;
    sel.recursive = false;
    auto infos = fs_->GetFileInfo(sel);
    if (!infos.ok()) return from_s3(infos.status(), "listing", dir);
    if (infos->empty()) {
      // Nothing below `dir` may also mean no bucket at all (the listing does not say).
      const std::string bucket = sel.base_dir.substr(0, sel.base_dir.find('/'));
      auto info = fs_->GetFileInfo(bucket);
      if (!info.ok()) return from_s3(info.status(), "listing", dir);
      if (info->type() == arrow::fs::FileType::NotFound) {
        return Status::fatal("listing " + dir + ": the bucket " + bucket +
                                 " does not exist (or these credentials may not see it): create it (for the local "
                                 "server: scripts/s3 bucket " +
                                 bucket + ")",
                             StatusCode::kInvalidArgument);
      }
    }
    std::vector<std::string> names;
    names.reserve(infos->size());
    for (const auto& info : *infos) names.push_back(info.base_name());
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::string> read_file(const std::string& path) override {
    auto opened = fs_->OpenInputFile(arrow_path(path));
    if (!opened.ok()) {
      if (contains(opened.status().ToString(), "Path does not exist") || opened.status().IsIOError()) {
        // Arrow says "Path does not exist" for a missing key; check, so that a store we cannot
        // reach is not mistaken for a missing file.
        auto info = fs_->GetFileInfo(arrow_path(path));
        if (info.ok() && info->type() == arrow::fs::FileType::NotFound) {
          return Status::fatal("reading " + path + ": no such object", StatusCode::kNotFound);
        }
      }
      return from_s3(opened.status(), "reading", path);
    }
    auto size = (*opened)->GetSize();
    if (!size.ok()) return from_s3(size.status(), "reading", path);
    auto buf = (*opened)->ReadAt(0, *size);
    if (!buf.ok()) return from_s3(buf.status(), "reading", path);
    return (*buf)->ToString();
  }

  bool exists(const std::string& path) override {
    auto info = fs_->GetFileInfo(arrow_path(path));
    return info.ok() && info->type() != arrow::fs::FileType::NotFound;
  }

  Result<int64_t> modified_time_ms(const std::string& path) override {
    auto info = fs_->GetFileInfo(arrow_path(path));
    if (!info.ok()) return from_s3(info.status(), "looking at", path);
    if (info->type() == arrow::fs::FileType::NotFound) {
      return Status::fatal("looking at " + path + ": no such object", StatusCode::kNotFound);
    }
    return std::chrono::duration_cast<std::chrono::milliseconds>(info->mtime().time_since_epoch()).count();
  }

  bool is_object_store(const std::string&) const override { return true; }

  Status put_if_absent(const std::string& path, std::string_view bytes) override {
    // A store that said once it cannot is not asked again (create_atomically falls back).
    if (no_conditional_puts_.load())
      return Status::fatal("no conditional PUT at this store", StatusCode::kUnimplemented);
    const auto [bucket, key] = bucket_and_key(path);
    if (key.empty()) return Status::fatal(path + ": no object key", StatusCode::kInvalidArgument);
    Status st = kpipe::put_if_absent(request_options(), bucket, key, bytes);
    if (st.code() == StatusCode::kUnimplemented) no_conditional_puts_.store(true);
    return st;
  }

  Result<int> abort_unfinished_uploads(const std::string& dir, std::string_view name_prefix) override {
    const auto [bucket, key] = bucket_and_key(dir);
    return kpipe::abort_unfinished_uploads(request_options(), bucket, key.empty() ? "" : key + "/", name_prefix);
  }

 private:
  // "s3://bucket/a/b" → ("bucket", "a/b"); the key is empty for the bucket itself.
  static std::pair<std::string, std::string> bucket_and_key(const std::string& uri) {
    const std::string p = arrow_path(uri);
    const auto slash = p.find('/');
    if (slash == std::string::npos) return {p, ""};
    return {p.substr(0, slash), p.substr(slash + 1)};
  }
  // The options for the requests signed here (s3_uploads.h), with the region Arrow resolved.
  arrow::fs::S3Options request_options() const {
    arrow::fs::S3Options o = options_;
    if (o.region.empty()) o.region = fs_->region();
    return o;
  }

  std::shared_ptr<arrow::fs::S3FileSystem> fs_;
  arrow::fs::S3Options options_;
  std::atomic<bool> no_conditional_puts_{false};
};

class RoutingFileSystem : public FileSystem {
 public:
  RoutingFileSystem(std::shared_ptr<FileSystem> local, S3Settings s3) : local_(std::move(local)), s3_settings_(s3) {}

  Status write_file(const std::string& path, std::string_view bytes) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(path));
    return fs->write_file(path, bytes);
  }
  Status rename(const std::string& from, const std::string& to) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(from, to));
    return fs->rename(from, to);
  }
  Status rename_no_replace(const std::string& from, const std::string& to) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(from, to));
    return fs->rename_no_replace(from, to);
  }
  Result<std::unique_ptr<FileLock>> lock_exclusive(const std::string& path, std::string_view owner) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(path));
    return fs->lock_exclusive(path, owner);
  }
  Status fsync_dir(const std::string& dir) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(dir));
    return fs->fsync_dir(dir);
  }
  Status remove(const std::string& path) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(path));
    return fs->remove(path);
  }
  Status make_dirs(const std::string& dir) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(dir));
    return fs->make_dirs(dir);
  }
  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(dir));
    return fs->list_dir(dir);
  }
  Result<std::string> read_file(const std::string& path) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(path));
    return fs->read_file(path);
  }
  bool exists(const std::string& path) override {
    auto fs = route(path);
    return fs.ok() && (*fs)->exists(path);
  }
  Result<int64_t> modified_time_ms(const std::string& path) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(path));
    return fs->modified_time_ms(path);
  }
  bool is_object_store(const std::string& path) const override { return is_s3_uri(path); }
  Status put_if_absent(const std::string& path, std::string_view bytes) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(path));
    return fs->put_if_absent(path, bytes);
  }
  Result<int> abort_unfinished_uploads(const std::string& dir, std::string_view name_prefix) override {
    KPIPE_ASSIGN_OR_RETURN(FileSystem * fs, route(dir));
    return fs->abort_unfinished_uploads(dir, name_prefix);
  }

 private:
  Result<FileSystem*> route(const std::string& path) {
    if (!is_s3_uri(path)) return local_.get();
    std::lock_guard lock(mutex_);
    if (!s3_) {
      KPIPE_ASSIGN_OR_RETURN(s3_, open_s3_file_system(s3_settings_));
    }
    return s3_.get();
  }
  Result<FileSystem*> route(const std::string& from, const std::string& to) {
    if (is_s3_uri(from) != is_s3_uri(to)) {
      return Status::fatal("cannot move " + from + " to " + to + ": they are on different stores");
    }
    return route(from);
  }

  std::shared_ptr<FileSystem> local_;
  S3Settings s3_settings_;
  std::mutex mutex_;
  std::shared_ptr<FileSystem> s3_;
};

}  // namespace

// Arrow reports an S3 failure as an IOError whose text carries the AWS error name
// ("AWS Error ACCESS_DENIED during HeadObject operation: ..."). What a person must fix is fatal;
// what may pass (the endpoint down, throttling, a 5xx) is retriable.
Status from_s3(const arrow::Status& st, std::string_view op, std::string_view uri) {
  const std::string text = st.ToString();
  std::string msg = std::string(op) + " " + std::string(uri) + ": ";
  auto fatal = [&](std::string hint) {
    return Status::fatal(msg + hint + " (" + text + ")", StatusCode::kInvalidArgument);
  };
  // First: a store that went away mid-request is no credentials problem, whatever digits the
  // rest of the text holds (test_s3 saw a NETWORK_CONNECTION read called "access denied").
  if (contains(text, "NETWORK_CONNECTION") || contains(text, "curlCode")) {
    return Status::retriable(msg + "cannot reach the store; check S3_ENDPOINT_URL (" + text + ")",
                             StatusCode::kUnavailable);
  }
  if (contains(text, "NO_SUCH_BUCKET") || contains(text, "NoSuchBucket") ||
      (contains(text, "Bucket '") && contains(text, "not found"))) {
    return fatal("the bucket does not exist: create it (for the local server: scripts/s3 bucket NAME)");
  }
  if (contains(text, "INVALID_ACCESS_KEY_ID") || contains(text, "InvalidAccessKeyId") ||
      contains(text, "SIGNATURE_DOES_NOT_MATCH") || contains(text, "SignatureDoesNotMatch")) {
    return fatal("the store refused the credentials: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (contains(text, "ACCESS_DENIED") || contains(text, "AccessDenied") || contains(text, "Forbidden") ||
      contains(text, "403")) {
    return fatal(
        "access denied: check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) and the bucket's "
        "policy");
  }
  if (contains(text, "EXPIRED_TOKEN") || contains(text, "ExpiredToken")) {
    return fatal("the credentials have expired: renew AWS_SESSION_TOKEN or the profile's credentials");
  }
  if (st.IsInvalid() || st.IsNotImplemented() || st.IsTypeError()) {
    return Status::fatal(msg + text, StatusCode::kInvalidArgument);
  }
  // SLOW_DOWN, INTERNAL_FAILURE, SERVICE_UNAVAILABLE, REQUEST_TIMEOUT, ...
  return Status::retriable(msg + text, StatusCode::kUnavailable);
}

Result<std::shared_ptr<FileSystem>> open_s3_file_system(const S3Settings& s) {
  KPIPE_RETURN_IF_ERROR(ensure_s3_initialized());
  arrow::fs::S3Options o;
  if (!s.access_key_id.empty()) {
    if (s.secret_access_key.empty()) {
      return Status::fatal("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not: set both, or neither",
                           StatusCode::kInvalidArgument);
    }
    o = arrow::fs::S3Options::FromAccessKey(s.access_key_id, s.secret_access_key, s.session_token);
  } else {
    // The AWS SDK's default chain: environment, AWS_PROFILE's entry of ~/.aws/credentials, SSO,
    // web identity, the instance's role. A profile set in .env only reaches the SDK this way.
    if (!s.profile.empty()) ::setenv("AWS_PROFILE", s.profile.c_str(), 1);
    o = arrow::fs::S3Options::Defaults();
  }
  o.region = s.region;
  const std::string style = ascii_lower(s.addressing_style);
  if (style != "auto" && style != "path" && style != "virtual") {
    return Status::fatal("S3_ADDRESSING_STYLE='" + s.addressing_style + "': expected auto, path or virtual",
                         StatusCode::kInvalidArgument);
  }
  std::string endpoint = s.endpoint_url;
  if (endpoint.empty() && style == "path") {
    // Path-style against AWS itself needs the regional endpoint named.
    endpoint = "https://s3." + (o.region.empty() ? std::string("us-east-1") : o.region) + ".amazonaws.com";
  }
  if (!endpoint.empty()) {
    const auto sep = endpoint.find("://");
    const std::string scheme = sep == std::string::npos ? "" : ascii_lower(endpoint.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return Status::fatal("S3_ENDPOINT_URL='" + endpoint + "': expected http://host:port or https://host",
                           StatusCode::kInvalidArgument);
    }
    o.scheme = scheme;
    std::string host = endpoint.substr(sep + 3);
    while (!host.empty() && host.back() == '/') host.pop_back();
    o.endpoint_override = host;
    if (o.region.empty()) o.region = "us-east-1";
  }
  o.force_virtual_addressing = style == "virtual";
  o.connect_timeout = s.connect_timeout_s;
  // Small objects (checkpoint entries, Delta commits, most data files) in one PutObject.
  o.allow_delayed_open = true;
  // Arrow's default retries a few times inside each call; kpipe's trigger loop retries the step.
  o.retry_strategy = arrow::fs::S3RetryStrategy::GetAwsStandardRetryStrategy(3);
  auto fs = arrow::fs::S3FileSystem::Make(o);
  if (!fs.ok()) return from_s3(fs.status(), "opening", endpoint.empty() ? "AWS S3" : endpoint);
  return std::shared_ptr<FileSystem>(std::make_shared<S3FileSystemAdapter>(*fs, o));
}

std::shared_ptr<FileSystem> routing_file_system(std::shared_ptr<FileSystem> local, S3Settings s3) {
  return std::make_shared<RoutingFileSystem>(std::move(local), std::move(s3));
}

void finalize_s3() {
  std::lock_guard lock(g_s3_mutex);
  if (!g_s3_initialized) return;
  (void)arrow::fs::FinalizeS3();
  g_s3_initialized = false;
}

Status check_s3_access(FileSystem& fs, const std::string& uri, std::string_view setting) {
  auto names = fs.list_dir(uri);
  if (names.ok()) return Status::success();
  Status st = names.status();
  if (st.is_retriable()) return st;
  return Status::fatal(std::string(setting) + "='" + uri + "': " + st.message(), StatusCode::kInvalidArgument);
}

}  // namespace kpipe
