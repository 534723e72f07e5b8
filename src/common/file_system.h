// The I/O seam for every file the pipeline writes: output files and checkpoint entries.
//
// Everything that must survive a crash goes through this interface, so tests can swap in
// FaultyFileSystem and fail any step of the batch protocol (Redpanda's test_data_writer with its
// return_error switch is the model). The durability recipe for a small file is
//   (1) write_file "<dir>/.<name>.tmp"   — content + fsync of the file
//   (2) rename to "<dir>/<name>"         — atomic: readers see the old state or the new file
//   (3) fsync_dir "<dir>"                — the rename itself survives a power cut
// and write_atomically() does exactly that.
//
// Error classes (Status kinds): ENOSPC, EDQUOT, EIO, EAGAIN, ENOMEM, EMFILE, ENFILE, EBUSY,
// ETIMEDOUT are retriable — the disk may free up, the device may come back, and every write here
// rewrites a whole file, so retrying never builds on a half-written one. Anything else
// (EACCES, EROFS, ENOENT, ENOTDIR, ...) needs a person and is fatal. Messages name the
// operation, the path and strerror.
//
// Create-if-absent: rename_no_replace() never overwrites, so of two writers racing for one name
// (two processes on one checkpoint) exactly one wins and the other gets kAlreadyExists, on file
// systems where advisory locks cannot be had or trusted (NFS) as well as on local disks.
//
// Implementations are thread-safe: the engine writes the files of one batch in parallel.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kpipe {

// An exclusive lock, held until this object is destroyed or the process ends (then the kernel
// releases it: a dead process never leaves a lock behind).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Creates/truncates `path`, writes all bytes, fsyncs the file, closes. The parent directory
  // must exist. On failure a partial file may remain (callers write under hidden temp names).
  virtual Status write_file(const std::string& path, std::string_view bytes) = 0;
  // rename(2): atomic, replaces `to` if it exists.
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Atomic like rename(), but fails with StatusCode::kAlreadyExists when `to` exists
  // (renameat2(RENAME_NOREPLACE), or link(2) + unlink(2) where the file system lacks it).
  virtual Status rename_no_replace(const std::string& from, const std::string& to) = 0;
  // Takes an exclusive lock on `path` (created if absent) without waiting and writes `owner`
  // (one line saying who holds it) into the file. Fails with StatusCode::kLocked when another
  // process holds it — the message is then the holder's owner line as it wrote it — and with
  // StatusCode::kUnavailable when this file system cannot lock at all (some NFS and FUSE mounts).
  virtual Result<std::unique_ptr<FileLock>> lock_exclusive(const std::string& path, std::string_view owner) = 0;
  virtual Status fsync_dir(const std::string& dir) = 0;
  // Removes a file or an empty directory; ok if absent.
  virtual Status remove(const std::string& path) = 0;
  // mkdir -p; ok if the directory exists.
  virtual Status make_dirs(const std::string& dir) = 0;
  // Entry names (not paths), sorted bytewise, without "." and ".."; empty if `dir` is absent.
  virtual Result<std::vector<std::string>> list_dir(const std::string& dir) = 0;
  virtual Result<std::string> read_file(const std::string& path) = 0;
  virtual bool exists(const std::string& path) = 0;
  // The file's last modification time, in ms since the epoch (what a log retention compares).
  virtual Result<int64_t> modified_time_ms(const std::string& path) = 0;
  // True when `path` lies on an object store (S3): no rename, no directories, no locks, but an
  // upload is visible whole or not at all. Files are then written under their final names,
  // write_atomically is one upload, and create_atomically is put_if_absent — or, where the store
  // cannot, a look before the upload (not atomic: one writer per table and checkpoint is then
  // kept by a fence, see docs/design.md).
  virtual bool is_object_store(const std::string& path) const {
    (void)path;
    return false;
  }
  // Aborts the unfinished multipart uploads below `dir` whose file name starts with
  // `name_prefix` (left by a process killed mid-upload; invisible, but kept by the store).
  // Returns how many. Nothing to do where uploads are not multipart: 0.
  virtual Result<int> abort_unfinished_uploads(const std::string& dir, std::string_view name_prefix) {
    (void)dir;
    (void)name_prefix;
    return 0;
  }
  // Object stores: uploads `bytes` to `path` only if no object has that name, atomically (S3's
  // If-None-Match: *); kAlreadyExists if one has. kUnimplemented where the store cannot (and
  // everywhere else: files use rename_no_replace).
  virtual Status put_if_absent(const std::string& path, std::string_view bytes) {
    (void)bytes;
    return Status::fatal("no conditional upload for " + path, StatusCode::kUnimplemented);
  }
};

// The POSIX file system. Stateless, so one instance may be shared by every thread.
// direct_io (DIRECT_IO): write_file writes files of kDirectIoMinBytes or more with O_DIRECT, past
// the page cache (write_file_direct); false: every file through the page cache.
std::shared_ptr<FileSystem> local_file_system(bool direct_io = true);

inline constexpr size_t kDirectIoMinBytes = 32 * 1024;

// Creates or truncates `path` and writes `bytes` with O_DIRECT: 1 MiB at a time through a buffer
// of the writing thread aligned to `block` bytes, the last piece padded to a whole block and the
// padding truncated again; then fsync. The output is written once and read by other processes,
// later: through the page cache it would cost a copy into pages that are new to the kernel (on a
// VM, new to the host: 2.4 s of system time per GB on this project's machine) and crowd out pages
// someone reads. Returns false, having written nothing the caller must keep, when the file system
// refuses O_DIRECT (EINVAL at open or at a write: tmpfs before Linux 6.6, some FUSE and ZFS
// versions, a device with blocks larger than `block`) or cuts a direct write short (the disk
// filling up: the next piece could not start aligned); the caller then writes the ordinary way,
// which reports a real error as such.
Result<bool> write_file_direct(const std::string& path, std::string_view bytes, size_t block = 4096);

// Writes `bytes` to "<dir>/.<name>.<owner>-<n>.tmp" (a name no other writer uses), fsyncs it, renames it to
// "<dir>/<name>" and fsyncs `dir`: afterwards the file is complete and durable, before it no reader sees a partial one.
// For small metadata files (checkpoint entries). On failure the temp file is removed when
// possible; a crash may still leave one, which is_temp_file_name-style start-up cleanup removes.
// `temp_owner` names the writer in the temp name (a group member's directory, so that whoever
// sweeps a dead member can find what it left: is_temp_file_of); empty: a random token of this process.
Status write_atomically(FileSystem& fs, const std::string& dir, const std::string& name, std::string_view bytes,
                        std::string_view temp_owner = {});

// write_atomically, but the entry is created only if "<dir>/<name>" does not exist. When it
// exists with exactly `bytes` (our own earlier try whose fsync failed) that is success; with
// other bytes the result is StatusCode::kAlreadyExists (another writer made it).
Status create_atomically(FileSystem& fs, const std::string& dir, const std::string& name, std::string_view bytes,
                         std::string_view temp_owner = {});

// Fails (kInvalidArgument, naming `setting`) unless create_atomically is atomic in `dir`: always on
// a local file system; on an object store only if put_if_absent is honoured, which it checks by
// creating a probe object twice (a store that ignores If-None-Match overwrites it) and removing it.
Status check_create_if_absent(FileSystem& fs, const std::string& dir, std::string_view setting);

// True if `name` is a temp name write_atomically or create_atomically made for `temp_owner`.
bool is_temp_file_of(std::string_view name, std::string_view temp_owner);

// A FileSystem for tests: forwards to `inner` and fails chosen calls with a chosen Status.
//
//   FaultyFileSystem fs(local_file_system());
//   fs.fail_on(FaultyFileSystem::Op::kRename, 2, Status::retriable("injected"));  // 2nd rename from now
//   fs.fail_path_containing("commits/", Status::fatal("injected"));               // every call on commits/
//
// A failed call does not reach `inner` (nothing is written, renamed or removed), except a
// kWriteFile failure with set_torn_writes(true), which first writes the first half of the bytes
// — what a crash in the middle of write(2) leaves behind. exists() cannot fail; it is counted.
// Thread-safe.
class FaultyFileSystem : public FileSystem {
 public:
  enum class Op {
    kWriteFile,
    kRename,
    kFsyncDir,
    kRemove,
    kMakeDirs,
    kListDir,
    kReadFile,
    kExists,
    kRenameNoReplace,
    kLock,
    kStat
  };
  static constexpr int kOpCount = 11;

  explicit FaultyFileSystem(std::shared_ptr<FileSystem> inner) : inner_(std::move(inner)) {}

  // Fails the `nth` call (1 = the next one) of `op` counted from now, once.
  void fail_on(Op op, int nth, Status status);
  // Fails the `nth` call of `op` counted from now and every later one (a disk that stays full).
  void fail_from(Op op, int nth, Status status);
  // Fails every call, of any op or only of `op`, whose path (either path of a rename)
  // contains `substring`.
  void fail_path_containing(std::string substring, Status status, std::optional<Op> op = std::nullopt);
  void set_torn_writes(bool torn) {
    std::lock_guard lock(mutex_);
    torn_writes_ = torn;
  }
  // Removes every rule; counters keep counting.
  void clear();

  // Calls of `op` since construction, failed ones included.
  int calls(Op op) const {
    std::lock_guard lock(mutex_);
    return calls_[static_cast<int>(op)];
  }
  // Calls failed by a rule since construction.
  int failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }

  Status write_file(const std::string& path, std::string_view bytes) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status rename_no_replace(const std::string& from, const std::string& to) override;
  Result<std::unique_ptr<FileLock>> lock_exclusive(const std::string& path, std::string_view owner) override;
  Status fsync_dir(const std::string& dir) override;
  Status remove(const std::string& path) override;
  Status make_dirs(const std::string& dir) override;
  Result<std::vector<std::string>> list_dir(const std::string& dir) override;
  Result<std::string> read_file(const std::string& path) override;
  bool exists(const std::string& path) override;
  Result<int64_t> modified_time_ms(const std::string& path) override;
  bool is_object_store(const std::string& path) const override { return inner_->is_object_store(path); }
  Status put_if_absent(const std::string& path, std::string_view bytes) override {
    return inner_->put_if_absent(path, bytes);
  }
  Result<int> abort_unfinished_uploads(const std::string& dir, std::string_view name_prefix) override {
    return inner_->abort_unfinished_uploads(dir, name_prefix);
  }

 private:
  struct CountRule {
    Op op;
    int first_call;  // absolute call number of `op` that fails first
    bool sticky;     // and every later one
    Status status;
  };
  struct PathRule {
    std::string substring;
    std::optional<Op> op;
    Status status;
  };
  // Counts the call and returns the injected failure, if any.
  std::optional<Status> check(Op op, std::string_view path, std::string_view path2 = {});

  std::shared_ptr<FileSystem> inner_;
  mutable std::mutex mutex_;
  std::array<int, kOpCount> calls_{};
  int failures_ = 0;
  bool torn_writes_ = false;
  std::vector<CountRule> count_rules_;
  std::vector<PathRule> path_rules_;
};

}  // namespace kpipe
