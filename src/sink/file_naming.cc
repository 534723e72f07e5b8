#include "sink/file_naming.h"

#include <charconv>
#include <limits>

#include "common/time_format.h"

namespace kpipe {
namespace {

constexpr std::string_view kPrefix = "part-";
constexpr std::string_view kTempSuffix = ".tmp";
constexpr int kQueryChars = 8;
constexpr int kBatchDigits = 5;
constexpr int kIndexDigits = 3;

std::string query8(std::string_view query_id) {
  std::string out;
  for (char c : query_id) {
    if (c == '-') continue;
    out.push_back(c);
    if (static_cast<int>(out.size()) == kQueryChars) break;
  }
  return out;
}

void append_padded(std::string& out, int64_t value, int width) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, value);
  for (int n = static_cast<int>(r.ptr - buf); n < width; ++n) out.push_back('0');
  out.append(buf, r.ptr);
}

// Parses a run of at least `min_digits` digits at the front of `s`, advancing it.
std::optional<int64_t> take_number(std::string_view& s, int min_digits) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n < static_cast<size_t>(min_digits)) return std::nullopt;
  int64_t value = 0;
  auto r = std::from_chars(s.data(), s.data() + n, value);
  if (r.ec != std::errc() || r.ptr != s.data() + n) return std::nullopt;
  s.remove_prefix(n);
  return value;
}

}  // namespace

std::string file_name_prefix(std::string_view query_id) {
  return std::string(kPrefix) + std::string(query8(query_id)) + "-";
}

std::string final_file_name(std::string_view query_id, int64_t batch_id, int file_index, std::string_view extension) {
  std::string out;
  out.reserve(kPrefix.size() + kQueryChars + 16 + extension.size());
  out += kPrefix;
  out += query8(query_id);
  out.push_back('-');
  append_padded(out, batch_id, kBatchDigits);
  out.push_back('-');
  append_padded(out, file_index, kIndexDigits);
  out += extension;
  return out;
}

std::string temp_file_name(std::string_view final_name) {
  std::string out;
  out.reserve(final_name.size() + 1 + kTempSuffix.size());
  out.push_back('.');
  out += final_name;
  out += kTempSuffix;
  return out;
}

bool is_temp_file_name(std::string_view name) {
  return name.size() > 1 + kTempSuffix.size() && name.front() == '.' && name.ends_with(kTempSuffix);
}

std::string_view final_name_of_temp(std::string_view temp_name) {
  if (!is_temp_file_name(temp_name)) return {};
  return temp_name.substr(1, temp_name.size() - 1 - kTempSuffix.size());
}

std::optional<int64_t> batch_id_of(std::string_view final_name, std::string_view query_id) {
  std::string head(kPrefix);
  head += query8(query_id);
  head.push_back('-');
  if (!final_name.starts_with(head)) return std::nullopt;
  std::string_view rest = final_name.substr(head.size());
  auto batch = take_number(rest, kBatchDigits);
  if (!batch || rest.empty() || rest.front() != '-') return std::nullopt;
  rest.remove_prefix(1);
  auto index = take_number(rest, kIndexDigits);
  // The extension must follow the index: "part-...-000.csv", never "part-...-000x".
  if (!index || rest.empty() || rest.front() != '.' || rest.ends_with(kTempSuffix)) return std::nullopt;
  return batch;
}

std::optional<std::pair<std::string, int64_t>> writer_and_batch_of(std::string_view final_name) {
  if (final_name.size() < kPrefix.size() + kQueryChars + 1 || !final_name.starts_with(kPrefix)) return std::nullopt;
  const std::string_view writer = final_name.substr(kPrefix.size(), kQueryChars);
  if (writer.find('-') != std::string_view::npos) return std::nullopt;
  auto batch = batch_id_of(final_name, writer);
  if (!batch) return std::nullopt;
  return std::make_pair(std::string(writer), *batch);
}

std::string dt_dir_name(int32_t days) {
  char buf[3 + kMaxTimeText];
  buf[0] = 'd';
  buf[1] = 't';
  buf[2] = '=';
  char* end = format_date(days, buf + 3);
  return std::string(buf, end);
}

}  // namespace kpipe
