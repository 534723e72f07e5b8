#include "delta/delta_log.h"

#include <arrow/buffer.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <vector>

#include "common/strings.h"
#include "delta/delta_checkpoint.h"
#include "delta/delta_json.h"

namespace kpipe {
namespace {

constexpr int64_t kDayMs = 24LL * 3600 * 1000;

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string digits(int64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
  return buf;
}

// What the log folder holds, by version.
struct Listing {
  std::map<int64_t, std::string> commits;  // version → file name
  // version → part names (one for a classic single-file checkpoint); only complete sets.
  std::map<int64_t, std::vector<std::string>> checkpoints;
};

Listing parse_listing(const std::vector<std::string>& names) {
  Listing l;
  std::map<int64_t, std::map<int64_t, std::pair<int64_t, std::string>>> parts;  // version → part → (of, name)
  for (const auto& n : names) {
    if (n.size() < 21 || !all_digits(std::string_view(n).substr(0, 20)) || n[20] != '.') continue;
    const int64_t v = to_int(std::string_view(n).substr(0, 20));
    const std::string_view rest = std::string_view(n).substr(21);
    if (rest == "json") {
      l.commits[v] = n;
    } else if (rest == "checkpoint.parquet") {
      l.checkpoints[v] = {n};
    } else if (rest.size() == 40 && rest.substr(0, 11) == "checkpoint." && all_digits(rest.substr(11, 10)) &&
               rest[21] == '.' && all_digits(rest.substr(22, 10)) && rest.substr(32) == ".parquet") {
      parts[v][to_int(rest.substr(11, 10))] = {to_int(rest.substr(22, 10)), n};
    }
    // V2 checkpoints (<version>.checkpoint.<uuid>.parquet|json) and .crc files are not read.
  }
  for (auto& [v, p] : parts) {
    const int64_t of = p.begin()->second.first;
    if (static_cast<int64_t>(p.size()) != of || p.begin()->first != 1 || p.rbegin()->first != of) continue;
    if (l.checkpoints.count(v)) continue;
    std::vector<std::string> names_of;
    for (auto& [i, e] : p) names_of.push_back(e.second);
    l.checkpoints[v] = std::move(names_of);
  }
  return l;
}

Result<Listing> list_log(FileSystem& fs, const std::string& root) {
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(delta_log_dir(root)));
  return parse_listing(names);
}

Status apply_from(FileSystem& fs, const std::string& root, const std::map<int64_t, std::string>& commits,
                  DeltaSnapshot& s) {
  for (auto it = commits.upper_bound(s.version); it != commits.end(); ++it) {
    const std::string path = delta_log_dir(root) + "/" + it->second;
    if (it->first != s.version + 1) {
      return Status::fatal("Delta log " + delta_log_dir(root) + ": version " + std::to_string(s.version + 1) +
                               " is missing (the next one is " + std::to_string(it->first) + ")",
                           StatusCode::kDataLoss);
    }
    KPIPE_ASSIGN_OR_RETURN(std::string text, fs.read_file(path));
    KPIPE_RETURN_IF_ERROR(apply_commit(text, it->first, s, path));
  }
  return Status::success();
}

Result<int64_t> parse_interval_ms(std::string_view text, std::string_view property) {
  // "interval 30 days", as Spark's CalendarInterval prints; also "30 days".
  std::string t = ascii_lower(text);
  std::string_view v = t;
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  if (v.rfind("interval ", 0) == 0) v.remove_prefix(9);
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  const size_t sp = v.find(' ');
  const std::string_view number = v.substr(0, sp);
  std::string_view unit = sp == std::string_view::npos ? std::string_view() : v.substr(sp + 1);
  while (!unit.empty() && unit.back() == ' ') unit.remove_suffix(1);
  if (!unit.empty() && unit.back() == 's') unit.remove_suffix(1);
  static const std::map<std::string_view, int64_t> kUnits = {
      {"week", 7 * kDayMs}, {"day", kDayMs}, {"hour", 3600 * 1000}, {"minute", 60 * 1000}, {"second", 1000}};
  auto u = kUnits.find(unit);
  if (!all_digits(number) || u == kUnits.end()) {
    return Status::fatal("Delta table property " + std::string(property) + "='" + std::string(text) +
                             "': expected 'interval N days' (or weeks, hours, minutes, seconds)",
                         StatusCode::kInvalidArgument);
  }
  return to_int(number) * u->second;
}

}  // namespace

std::string delta_log_dir(const std::string& root) { return root + "/_delta_log"; }
std::string delta_commit_name(int64_t version) { return digits(version, 20) + ".json"; }
std::string delta_checkpoint_name(int64_t version) { return digits(version, 20) + ".checkpoint.parquet"; }

Result<DeltaSnapshot> load_snapshot(FileSystem& fs, const std::string& root) {
  KPIPE_ASSIGN_OR_RETURN(Listing l, list_log(fs, root));
  DeltaSnapshot s;
  if (l.commits.empty() && l.checkpoints.empty()) return s;
  for (auto it = l.checkpoints.rbegin(); it != l.checkpoints.rend(); ++it) {
    std::vector<std::shared_ptr<arrow::Buffer>> parts;
    for (const auto& name : it->second) {
      KPIPE_ASSIGN_OR_RETURN(std::string bytes, fs.read_file(delta_log_dir(root) + "/" + name));
      parts.push_back(arrow::Buffer::FromString(std::move(bytes)));
    }
    auto snap = decode_checkpoint(parts, it->first);
    if (!snap.ok()) {
      return Status(snap.status())
          .with_context("reading the checkpoint " + delta_log_dir(root) + "/" + it->second.front());
    }
    s = std::move(snap).value();
    s.version = it->first;
    break;
  }
  if (s.version < 0 && !l.commits.count(0)) {
    return Status::fatal("Delta log " + delta_log_dir(root) + " has neither version 0 nor a checkpoint to start from",
                         StatusCode::kDataLoss);
  }
  KPIPE_RETURN_IF_ERROR(apply_from(fs, root, l.commits, s));
  return s;
}

Status catch_up(FileSystem& fs, const std::string& root, DeltaSnapshot& snapshot) {
  // Each commit's name is known: read them one by one until one is missing, without a listing.
  for (;;) {
    const std::string path = delta_log_dir(root) + "/" + delta_commit_name(snapshot.version + 1);
    if (!fs.exists(path)) return Status::success();
    KPIPE_ASSIGN_OR_RETURN(std::string text, fs.read_file(path));
    KPIPE_RETURN_IF_ERROR(apply_commit(text, snapshot.version + 1, snapshot, path));
  }
}

Status write_commit(FileSystem& fs, const std::string& root, int64_t version, std::string_view actions,
                    std::string_view temp_owner) {
  const std::string dir = delta_log_dir(root);
  KPIPE_RETURN_IF_ERROR(fs.make_dirs(dir));
  return create_atomically(fs, dir, delta_commit_name(version), actions, temp_owner);
}

Status write_checkpoint(FileSystem& fs, const std::string& root, const DeltaSnapshot& snapshot,
                        std::string_view temp_owner) {
  const std::string dir = delta_log_dir(root);
  KPIPE_ASSIGN_OR_RETURN(auto bytes, encode_checkpoint(snapshot));
  KPIPE_RETURN_IF_ERROR(write_atomically(
      fs, dir, delta_checkpoint_name(snapshot.version),
      std::string_view(reinterpret_cast<const char*>(bytes->data()), static_cast<size_t>(bytes->size())), temp_owner));
  const int64_t actions = 2 + static_cast<int64_t>(snapshot.txns.size() + snapshot.files.size());
  return write_atomically(
      fs, dir, "_last_checkpoint",
      encode_last_checkpoint(snapshot.version, actions, bytes->size(), static_cast<int64_t>(snapshot.files.size())),
      temp_owner);
}

Result<int> remove_expired_log_files(FileSystem& fs, const std::string& root, int64_t checkpoint_version,
                                     int64_t cutoff_ms) {
  KPIPE_ASSIGN_OR_RETURN(Listing l, list_log(fs, root));
  const std::string dir = delta_log_dir(root);
  // The commits are looked at oldest first, and only until the first one still retained: the
  // log of a long-running stream holds many, and their times only grow.
  int64_t expired_below = l.commits.empty() ? 0 : l.commits.begin()->first;
  for (const auto& [v, name] : l.commits) {
    if (v >= checkpoint_version) break;
    KPIPE_ASSIGN_OR_RETURN(int64_t mtime, fs.modified_time_ms(dir + "/" + name));
    if (mtime >= cutoff_ms) break;
    expired_below = v + 1;
  }
  // The newest checkpoint that every retained version can start from.
  int64_t keep_from = -1;
  for (const auto& [v, parts] : l.checkpoints) {
    if (v <= expired_below && v <= checkpoint_version) keep_from = v;
  }
  if (keep_from <= 0) return 0;
  int removed = 0;
  for (const auto& [v, name] : l.commits) {
    if (v >= keep_from) break;
    KPIPE_RETURN_IF_ERROR(fs.remove(dir + "/" + name));
    ++removed;
  }
  for (const auto& [v, parts] : l.checkpoints) {
    if (v >= keep_from) break;
    for (const auto& p : parts) KPIPE_RETURN_IF_ERROR(fs.remove(dir + "/" + p));
    ++removed;
  }
  return removed;
}

Result<int64_t> log_retention_ms(const DeltaMetadata& metadata) {
  auto it = metadata.configuration.find("delta.logRetentionDuration");
  if (it == metadata.configuration.end()) return 30 * kDayMs;
  return parse_interval_ms(it->second, it->first);
}

Result<int64_t> checkpoint_interval(const DeltaMetadata& metadata) {
  auto it = metadata.configuration.find("delta.checkpointInterval");
  if (it == metadata.configuration.end()) return 10;
  if (!all_digits(it->second) || to_int(it->second) < 1) {
    return Status::fatal(
        "Delta table property delta.checkpointInterval='" + it->second + "': expected a whole number >= 1",
        StatusCode::kInvalidArgument);
  }
  return to_int(it->second);
}

}  // namespace kpipe
