#include "storage/s3_uploads.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <chrono>
#include <ctime>
#include <memory>

namespace kpipe {
namespace {

std::string hex(const unsigned char* data, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[data[i] >> 4];
    out[2 * i + 1] = digits[data[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof digest);
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, '/' kept in paths only.
std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* digits = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string xml_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s.substr(i);
      break;
    }
    const std::string_view entity = s.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else if (!entity.empty() && entity[0] == '#') {
      const bool is_hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      const unsigned long cp =
          std::strtoul(std::string(entity.substr(is_hex ? 2 : 1)).c_str(), nullptr, is_hex ? 16 : 10);
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += s.substr(i, semi - i + 1);
    }
    i = semi;
  }
  return out;
}

// The text of the first <tag>...</tag> in `xml` from `from`; npos-safe. Sets `end` past it.
std::optional<std::string_view> element(std::string_view xml, std::string_view tag, size_t from, size_t* end) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const size_t a = xml.find(open, from);
  if (a == std::string_view::npos) return std::nullopt;
  const size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  if (end) *end = b + close.size();
  return xml.substr(a + open.size(), b - a - open.size());
}

std::string amz_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

struct Target {
  std::string scheme_host;  // "http://127.0.0.1:9000"
  std::string host;         // "127.0.0.1:9000"
  std::string bucket_path;  // "/bucket" (path-style) or "" (virtual-hosted)
};

Target target_of(const arrow::fs::S3Options& o, const std::string& region, const std::string& bucket) {
  Target t;
  if (!o.endpoint_override.empty()) {
    t.host = o.force_virtual_addressing ? bucket + "." + o.endpoint_override : o.endpoint_override;
    t.bucket_path = o.force_virtual_addressing ? "" : "/" + bucket;
    t.scheme_host = o.scheme + "://" + t.host;
  } else {
    t.host = bucket + ".s3." + region + ".amazonaws.com";
    t.scheme_host = "https://" + t.host;
  }
  return t;
}

Status http_error(const std::string& what, const httplib::Result& res) {
  if (!res) {
    return Status::retriable(
        what + ": cannot reach the store; check S3_ENDPOINT_URL (" + httplib::to_string(res.error()) + ")",
        StatusCode::kUnavailable);
  }
  const std::string body = res->body.substr(0, 300);
  std::string msg = what + ": HTTP " + std::to_string(res->status) + " " + body;
  if (res->status == 403) {
    return Status::fatal(msg + " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's policy)",
                         StatusCode::kInvalidArgument);
  }
  if (res->status >= 500 || res->status == 429) return Status::retriable(msg, StatusCode::kUnavailable);
  return Status::fatal(msg);
}

}  // namespace

SignedParts sign_v4(const SignedRequest& r) {
  const std::string date = r.amz_date.substr(0, 8);
  const std::string payload_hash = r.payload_hash.empty() ? sha256_hex("") : r.payload_hash;
  std::string query;
  for (const auto& [k, v] : r.query) {  // std::map: sorted by key, as the canonical form wants
    if (!query.empty()) query += '&';
    query += uri_encode(k, false) + "=" + uri_encode(v, false);
  }
  std::map<std::string, std::string> signed_headers = {
      {"host", r.host}, {"x-amz-content-sha256", payload_hash}, {"x-amz-date", r.amz_date}};
  if (!r.session_token.empty()) signed_headers["x-amz-security-token"] = r.session_token;
  for (const auto& [k, v] : r.headers) signed_headers[k] = v;
  std::string canonical_headers, header_names;
  for (const auto& [k, v] : signed_headers) {
    canonical_headers += k + ":" + v + "\n";
    header_names += (header_names.empty() ? "" : ";") + k;
  }
  const std::string path = uri_encode(r.path.empty() ? "/" : r.path, true);
  const std::string canonical =
      r.method + "\n" + path + "\n" + query + "\n" + canonical_headers + "\n" + header_names + "\n" + payload_hash;
  const std::string scope = date + "/" + r.region + "/s3/aws4_request";
  const std::string to_sign = "AWS4-HMAC-SHA256\n" + r.amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  const std::string key = hmac(hmac(hmac(hmac("AWS4" + r.secret_key, date), r.region), "s3"), "aws4_request");
  const std::string signature = hmac(key, to_sign);
  SignedParts out;
  out.target = path + (query.empty() ? "" : "?" + query);
  out.headers = signed_headers;
  out.headers.erase("host");  // httplib writes Host itself, from the client's host and port
  out.headers["Authorization"] =
      "AWS4-HMAC-SHA256 Credential=" + r.access_key + "/" + scope + ", SignedHeaders=" + header_names +
      ", Signature=" + hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size());
  return out;
}

Result<UploadListing> parse_upload_listing(std::string_view xml) {
  if (xml.find("<ListMultipartUploadsResult") == std::string_view::npos) {
    return Status::fatal("ListMultipartUploads: unexpected answer: " + std::string(xml.substr(0, 200)));
  }
  UploadListing out;
  size_t pos = 0, end = 0;
  while (auto upload = element(xml, "Upload", pos, &end)) {
    pos = end;
    auto key = element(*upload, "Key", 0, nullptr);
    auto id = element(*upload, "UploadId", 0, nullptr);
    if (key && id) out.uploads.push_back({xml_unescape(*key), xml_unescape(*id)});
  }
  auto truncated = element(xml, "IsTruncated", 0, nullptr);
  if (truncated && *truncated == "true") {
    auto k = element(xml, "NextKeyMarker", 0, nullptr);
    auto u = element(xml, "NextUploadIdMarker", 0, nullptr);
    out.next_key_marker = k ? xml_unescape(*k) : "";
    out.next_upload_id_marker = u ? xml_unescape(*u) : "";
  }
  return out;
}

namespace {

// A client for the bucket's endpoint, with deadlines, and the request fields every call shares.
struct Endpoint {
  Target target;
  std::unique_ptr<httplib::Client> client;
  SignedRequest base;
};

Endpoint endpoint_of(const arrow::fs::S3Options& options, const std::string& bucket) {
  Endpoint e;
  const std::string region = options.region.empty() ? "us-east-1" : options.region;
  e.target = target_of(options, region, bucket);
  e.client = std::make_unique<httplib::Client>(e.target.scheme_host);
  e.client->set_url_encode(false);  // the target is encoded already, exactly as signed
  e.client->set_connection_timeout(5);
  e.client->set_read_timeout(15);
  e.client->set_write_timeout(15);
  e.base.host = e.target.host;
  e.base.region = region;
  e.base.access_key = options.GetAccessKey();
  e.base.secret_key = options.GetSecretKey();
  e.base.session_token = options.GetSessionToken();
  return e;
}

}  // namespace

Status put_if_absent(const arrow::fs::S3Options& options, const std::string& bucket, const std::string& key,
                     std::string_view bytes) {
  Endpoint e = endpoint_of(options, bucket);
  SignedRequest put = e.base;
  put.method = "PUT";
  put.path = e.target.bucket_path + "/" + key;
  put.payload_hash = sha256_hex(bytes);
  put.headers = {{"if-none-match", "*"}};
  put.amz_date = amz_now();
  SignedParts parts = sign_v4(put);
  httplib::Headers headers(parts.headers.begin(), parts.headers.end());
  const std::string uri = "s3://" + bucket + "/" + key;
  auto res = e.client->Put(parts.target, headers, bytes.data(), bytes.size(), "application/octet-stream");
  if (res && res->status == 200) return Status::success();
  if (res && res->status == 412) return Status::fatal(uri + " exists", StatusCode::kAlreadyExists);
  if (res && res->status == 409) {
    return Status::retriable("creating " + uri + ": another conditional write of it is in progress (HTTP 409)",
                             StatusCode::kUnavailable);
  }
  if (res && (res->status == 501 || (res->status == 400 && res->body.find("NotImplemented") != std::string::npos))) {
    return Status::fatal("creating " + uri + ": the store does not support If-None-Match on PUT (HTTP " +
                             std::to_string(res->status) + ")",
                         StatusCode::kUnimplemented);
  }
  return http_error("creating " + uri, res);
}

Result<int> abort_unfinished_uploads(const arrow::fs::S3Options& options, const std::string& bucket,
                                     const std::string& prefix, std::string_view name_prefix) {
  Endpoint e = endpoint_of(options, bucket);
  const Target& t = e.target;
  httplib::Client& client = *e.client;
  const SignedRequest& base = e.base;
  const std::string where = "s3://" + bucket + "/" + prefix;
  int aborted = 0;
  std::string key_marker, id_marker;
  for (int page = 0; page < 1000; ++page) {
    SignedRequest list = base;
    list.method = "GET";
    list.path = t.bucket_path.empty() ? "/" : t.bucket_path;
    list.query = {{"uploads", ""}, {"prefix", prefix}};
    if (!key_marker.empty()) list.query["key-marker"] = key_marker;
    if (!id_marker.empty()) list.query["upload-id-marker"] = id_marker;
    list.amz_date = amz_now();
    SignedParts parts = sign_v4(list);
    httplib::Headers headers(parts.headers.begin(), parts.headers.end());
    auto res = client.Get(parts.target, headers);
    if (!res || res->status != 200) return http_error("listing the unfinished uploads below " + where, res);
    KPIPE_ASSIGN_OR_RETURN(UploadListing listing, parse_upload_listing(res->body));
    for (const auto& u : listing.uploads) {
      const std::string name = u.key.substr(u.key.rfind('/') + 1);
      if (name.rfind(name_prefix, 0) != 0) continue;
      SignedRequest del = base;
      del.method = "DELETE";
      del.path = t.bucket_path + "/" + u.key;
      del.query = {{"uploadId", u.upload_id}};
      del.amz_date = amz_now();
      SignedParts d = sign_v4(del);
      httplib::Headers dh(d.headers.begin(), d.headers.end());
      auto r = client.Delete(d.target, dh);
      // 404: completed or aborted meanwhile, which is what we want too.
      if (!r || (r->status != 204 && r->status != 200 && r->status != 404)) {
        return http_error("aborting the unfinished upload of s3://" + bucket + "/" + u.key, r);
      }
      ++aborted;
    }
    if (listing.next_key_marker.empty()) break;
    key_marker = listing.next_key_marker;
    id_marker = listing.next_upload_id_marker;
  }
  return aborted;
}

}  // namespace kpipe
