#include "engine/group_members.h"

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "delta/delta_log.h"
#include "engine/group_claims.h"
#include "sink/file_naming.h"

namespace kpipe {
namespace {

// The directory of a member checkpoint: its two logs, then whatever else it holds (metadata,
// lock, temp files), then itself.
Status remove_member_dir(FileSystem& fs, const std::string& dir) {
  for (const char* log : {"offsets", "commits"}) {
    const std::string sub = dir + "/" + log;
    if (!fs.exists(sub)) continue;
    KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(sub));
    for (const auto& n : names) KPIPE_RETURN_IF_ERROR(fs.remove(sub + "/" + n));
    KPIPE_RETURN_IF_ERROR(fs.remove(sub));
  }
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir));
  for (const auto& n : names) KPIPE_RETURN_IF_ERROR(fs.remove(dir + "/" + n));
  return fs.remove(dir);
}

}  // namespace

std::string members_dir(const std::string& checkpoint_path) { return checkpoint_path + "/members"; }

// Where each file `entry` plans is, below the root its sink recorded.
static std::vector<std::string> batch_file_paths(const OffsetsEntry& entry) {
  std::vector<std::string> paths;
  for (const auto& f : entry.files) {
    auto sink =
        std::find_if(entry.sinks.begin(), entry.sinks.end(), [&](const SinkSpec& s) { return s.name == f.sink; });
    if (sink != entry.sinks.end()) paths.push_back(sink->root + "/" + f.path);
  }
  return paths;
}

Status remove_batch_files(FileSystem& fs, const OffsetsEntry& entry) {
  for (const std::string& path : batch_file_paths(entry)) {
    const auto slash = path.rfind('/');
    KPIPE_RETURN_IF_ERROR(fs.remove(path));
    if (!fs.is_object_store(path)) {
      KPIPE_RETURN_IF_ERROR(fs.remove(path.substr(0, slash) + "/" + temp_file_name(path.substr(slash + 1))));
    }
  }
  return Status::success();
}

// A commit, checkpoint or _last_checkpoint the member was writing when it died.
static Status remove_log_temp_files(FileSystem& fs, const std::string& table_root, std::string_view member) {
  const std::string log = delta_log_dir(table_root);
  if (!fs.exists(log)) return Status::success();
  KPIPE_ASSIGN_OR_RETURN(auto names, fs.list_dir(log));
  for (const auto& n : names) {
    if (is_temp_file_of(n, member)) KPIPE_RETURN_IF_ERROR(fs.remove(log + "/" + n));
  }
  return Status::success();
}

// No locks here (S3, some NFS): whether the process runs cannot be told, but whether its pending
// batch can still commit can — once an epoch it was planned under moved, the commit check refuses
// it for good — so its files go then. The directory stays: its process may still run.
static Status sweep_uncommittable(const std::shared_ptr<FileSystem>& fs, const std::string& dir,
                                  const std::string& name, const DeltaSnapshot& table, std::string_view query_id,
                                  const std::string& topic, const std::string& group_id, SweepResult& done) {
  KPIPE_ASSIGN_OR_RETURN(auto cp, Checkpoint::open(fs, dir, topic, group_id));
  auto pending = cp->pending_batch();
  if (!pending) return Status::success();
  if (writer_committed(table, query_id, cp->query_id(), pending->batch_id)) return Status::success();
  if (!can_never_commit(table, query_id, *pending)) return Status::success();
  const auto paths = batch_file_paths(*pending);
  if (std::none_of(paths.begin(), paths.end(), [&](const auto& p) { return fs->exists(p); })) {
    return Status::success();  // swept before
  }
  KPIPE_RETURN_IF_ERROR(remove_batch_files(*fs, *pending));
  // A large file still uploading (multipart): abort it, so that it never appears.
  std::string prefix = final_file_name(cp->query_id(), pending->batch_id, 0, "");
  prefix.resize(prefix.size() - 3);  // "part-<writer8>-<batch>-"
  for (const auto& s : pending->sinks) (void)fs->abort_unfinished_uploads(s.root, prefix);
  ++done.batches;
  log_info("group", "removed the " + std::to_string(pending->files.size()) + " file(s) of batch " +
                        std::to_string(pending->batch_id) + " of instance " + name +
                        ", which it wrote and can no longer commit (its partitions have moved on)");
  return Status::success();
}

Result<SweepResult> sweep_dead_members(std::shared_ptr<FileSystem> fs, const std::string& checkpoint_path,
                                       const std::string& table_root, std::string_view self, const DeltaSnapshot& table,
                                       std::string_view query_id, const std::string& topic,
                                       const std::string& group_id) {
  SweepResult done;
  const std::string root = members_dir(checkpoint_path);
  if (!fs->exists(root)) return done;
  KPIPE_ASSIGN_OR_RETURN(auto names, fs->list_dir(root));
  for (const auto& name : names) {
    if (name == self || is_temp_file_name(name)) continue;
    const std::string dir = root + "/" + name;
    // No metadata yet: a process that is starting (it locks, then writes the metadata) or one
    // that died before it wrote anything. Either way nothing to clean, and taking the lock now
    // could make a starting process fail to take its own.
    if (!fs->exists(dir + "/metadata")) continue;
    // Held: its process lives (a zombie included, which cleans up after itself). Unavailable: the
    // file system cannot lock, so nobody can tell: only a batch that can never commit is swept.
    auto lock = fs->lock_exclusive(dir + "/lock", owner_line());
    if (!lock.ok()) {
      // (Another sweeper may have removed the directory meanwhile: nothing to say then.)
      if (lock.status().code() == StatusCode::kUnavailable) {
        KPIPE_RETURN_IF_ERROR(sweep_uncommittable(fs, dir, name, table, query_id, topic, group_id, done));
      }
      continue;
    }
    if (fs->exists(dir + "/metadata")) {  // (gone if another sweeper was first)
      KPIPE_ASSIGN_OR_RETURN(auto cp, Checkpoint::open(fs, dir, topic, group_id));
      if (auto pending = cp->pending_batch()) {
        if (!writer_committed(table, query_id, cp->query_id(), pending->batch_id)) {
          KPIPE_RETURN_IF_ERROR(remove_batch_files(*fs, *pending));
          ++done.batches;
          log_info("group", "removed the " + std::to_string(pending->files.size()) + " file(s) of batch " +
                                std::to_string(pending->batch_id) + " of a stopped instance (" + name +
                                "), which it wrote but never committed");
        }
      }
    }
    KPIPE_RETURN_IF_ERROR(remove_log_temp_files(*fs, table_root, name));
    KPIPE_RETURN_IF_ERROR(remove_member_dir(*fs, dir));
    ++done.members;
  }
  return done;
}

}  // namespace kpipe
