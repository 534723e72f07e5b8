#include "common/file_system.h"

#include "common/log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <type_traits>

namespace kpipe {
namespace {

// strerror_r comes in a GNU flavour (returns char*) and an XSI one (returns int); both are
// thread-safe, unlike strerror.
[[maybe_unused]] const char* strerror_result(int, const char* buf) { return buf; }
[[maybe_unused]] const char* strerror_result(char* gnu, const char*) { return gnu; }

std::string errno_text(int err) {
  char buf[256] = {0};
  const char* text = strerror_result(strerror_r(err, buf, sizeof buf), buf);
  if (text == nullptr || *text == '\0') return "errno " + std::to_string(err);
  return std::string(text) + " (errno " + std::to_string(err) + ")";
}

bool is_transient(int err) {
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EIO:
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EBUSY:
    case ETIMEDOUT: return true;
    default: return false;
  }
}

Status errno_status(std::string_view what, const std::string& path, int err) {
  std::string msg = std::string(what) + " " + path + ": " + errno_text(err);
  if (is_transient(err)) return Status::retriable(std::move(msg));
  return Status::fatal(std::move(msg), err == ENOENT ? StatusCode::kNotFound : StatusCode::kUnknown);
}

// Closes on every path out of a function, so an error return never leaks a descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the error: on NFS a failed write can surface only at close().
  int close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

int open_retrying(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

class LocalLock final : public FileLock {
 public:
  explicit LocalLock(int fd) : fd_(fd) {}
  // A clean stop empties the owner line, so that only a lock left by a process that died names
  // its holder to the next one; closing releases the flock.
  ~LocalLock() override {
    (void)::ftruncate(fd_, 0);
    ::close(fd_);
  }

 private:
  int fd_;
};

Result<std::unique_ptr<FileLock>> lock_local_file(const std::string& path, std::string_view owner) {
  int fd = open_retrying(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd < 0) return errno_status("opening lock file", path, errno);
  auto lock = std::make_unique<LocalLock>(fd);
  // flock, not fcntl: an fcntl lock is dropped when any descriptor of the file in this process
  // closes, and it is per process, so it would not even stop a second open in this process.
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    if (err == EWOULDBLOCK) {
      // The holder writes its line right after taking the lock; give it a moment to finish.
      std::string holder;
      for (int i = 0; i < 20 && holder.empty(); ++i) {
        char buf[512];
        ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) holder.assign(buf, static_cast<size_t>(n));
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
        if (holder.empty()) ::usleep(10000);
      }
      return Status::fatal(holder.empty() ? "an unknown process" : holder, StatusCode::kLocked);
    }
    return Status::fatal("locking " + path + ": " + errno_text(err), StatusCode::kUnavailable);
  }
  std::string line(owner);
  line += '\n';
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    return errno_status("writing lock file", path, errno);
  }
  return std::unique_ptr<FileLock>(std::move(lock));
}

// The writing thread's aligned buffer for O_DIRECT, allocated at its first direct write and kept
// (a writer of the pool writes file after file).
struct AlignedChunk {
  static constexpr size_t kBytes = 1 << 20;
  char* data = nullptr;
  size_t alignment = 0;
  ~AlignedChunk() { std::free(data); }
  bool reserve(size_t align) {
    if (data != nullptr && alignment == align) return true;
    std::free(data);
    data = nullptr;
    void* p = nullptr;
    if (posix_memalign(&p, align, kBytes) != 0) return false;
    data = static_cast<char*>(p);
    alignment = align;
    return true;
  }
};

class LocalFileSystem final : public FileSystem {
 public:
  explicit LocalFileSystem(bool direct_io) : direct_io_(direct_io) {}

  Status write_file(const std::string& path, std::string_view bytes) override {
    if (direct_io_ && bytes.size() >= kDirectIoMinBytes) {
      KPIPE_ASSIGN_OR_RETURN(bool written, write_file_direct(path, bytes));
      if (written) return Status::success();
      static std::atomic<bool> told{false};
      if (!told.exchange(true)) {
        log_info("files", "the file system of " + path + " refused an O_DIRECT write (EINVAL or a short write): " +
                              "such files are written through the page cache there (DIRECT_IO)");
      }
    }
    Fd fd(open_retrying(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    if (fd.get() < 0) return errno_status("creating", path, errno);
    const char* p = bytes.data();
    size_t left = bytes.size();
    while (left > 0) {
      ssize_t n = ::write(fd.get(), p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("writing", path, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return errno_status("fsync of", path, errno);
    if (fd.close() != 0 && errno != EINTR) return errno_status("closing", path, errno);
    return Status::success();
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return errno_status("renaming", from + " to " + to, errno);
    }
    return Status::success();
  }

  Status rename_no_replace(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return Status::success();
    int err = errno;
    if (err == EINVAL || err == ENOSYS || err == ENOTSUP) {
      // No RENAME_NOREPLACE here (NFS before 4.x servers, some FUSE file systems): link(2) is
      // create-if-absent on every POSIX file system; then the temp name goes.
      if (::link(from.c_str(), to.c_str()) == 0) {
        (void)::unlink(from.c_str());
        return Status::success();
      }
      err = errno;
    }
    if (err == EEXIST) {
      return Status::fatal("creating " + to + ": it exists already", StatusCode::kAlreadyExists);
    }
    return errno_status("renaming (no replace)", from + " to " + to, err);
  }

  Result<std::unique_ptr<FileLock>> lock_exclusive(const std::string& path, std::string_view owner) override {
    return lock_local_file(path, owner);
  }

  Status fsync_dir(const std::string& dir) override {
    Fd fd(open_retrying(dir.c_str(), O_RDONLY | O_DIRECTORY));
    if (fd.get() < 0) return errno_status("opening directory", dir, errno);
    // Some file systems cannot fsync a directory at all; PostgreSQL's fsync_fname ignores
    // EINVAL/EBADF for directories for the same reason: there is nothing more to make durable.
    if (::fsync(fd.get()) != 0 && errno != EINVAL && errno != EBADF && errno != EROFS) {
      return errno_status("fsync of directory", dir, errno);
    }
    return Status::success();
  }

  Status remove(const std::string& path) override {
    if (::remove(path.c_str()) != 0 && errno != ENOENT) {
      return errno_status("removing", path, errno);
    }
    return Status::success();
  }

  Status make_dirs(const std::string& dir) override {
    if (dir.empty()) return Status::fatal("creating directory: empty path");
    // Walks the path creating each missing component, as mkdir -p does.
    std::string prefix;
    prefix.reserve(dir.size());
    size_t pos = 0;
    while (pos <= dir.size()) {
      size_t slash = dir.find('/', pos);
      if (slash == std::string::npos) slash = dir.size();
      prefix.assign(dir, 0, slash);
      pos = slash + 1;
      if (prefix.empty() || prefix == "." || prefix == "..") continue;
      if (::mkdir(prefix.c_str(), 0755) == 0) continue;
      int err = errno;
      struct stat st;
      if (err == EEXIST && ::stat(prefix.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) continue;
        return errno_status("creating directory", prefix, ENOTDIR);
      }
      return errno_status("creating directory", prefix, err);
    }
    return Status::success();
  }

  Result<std::vector<std::string>> list_dir(const std::string& dir) override {
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return names;
      return errno_status("listing", dir, errno);
    }
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
      errno = 0;
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return errno_status("listing", dir, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<std::string> read_file(const std::string& path) override {
    Fd fd(open_retrying(path.c_str(), O_RDONLY));
    if (fd.get() < 0) return errno_status("opening", path, errno);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return errno_status("stat of", path, errno);
    std::string out;
    out.resize(st.st_size > 0 ? static_cast<size_t>(st.st_size) : 0);
    size_t got = 0;
    // Reads until EOF, not just st_size bytes: the size of /proc files and of a file being
    // appended to is not what stat says.
    while (true) {
      if (got == out.size()) out.resize(std::max<size_t>(4096, out.size() * 2));
      ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_status("reading", path, errno);
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out.resize(got);
    return out;
  }

  bool exists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }

  Result<int64_t> modified_time_ms(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return errno_status("stat of", path, errno);
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
  }

 private:
  const bool direct_io_;
};

}  // namespace

Result<bool> write_file_direct(const std::string& path, std::string_view bytes, size_t block) {
  thread_local AlignedChunk chunk;
  if (block == 0 || (block & (block - 1)) != 0 || block > AlignedChunk::kBytes || !chunk.reserve(block)) {
    return false;
  }
  Fd fd(open_retrying(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0644));
  if (fd.get() < 0) {
    if (errno == EINVAL) return false;
    return errno_status("creating", path, errno);
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const size_t n = std::min(AlignedChunk::kBytes, bytes.size() - done);
    const size_t padded = (n + block - 1) & ~(block - 1);
    std::memcpy(chunk.data, bytes.data() + done, n);
    std::memset(chunk.data + n, 0, padded - n);
    ssize_t w;
    do {
      w = ::pwrite(fd.get(), chunk.data, padded, static_cast<off_t>(done));
    } while (w < 0 && errno == EINTR);
    if (w < 0 && errno == EINVAL) return false;
    if (w < 0) return errno_status("writing", path, errno);
    // A short direct write (the disk filling up) leaves an offset the next one may not start at:
    // the file is written again the ordinary way, which reports what is wrong.
    if (static_cast<size_t>(w) != padded) return false;
    done += n;
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes.size())) != 0) return errno_status("truncating", path, errno);
  if (::fsync(fd.get()) != 0) return errno_status("fsync of", path, errno);
  if (fd.close() != 0 && errno != EINTR) return errno_status("closing", path, errno);
  return true;
}

std::shared_ptr<FileSystem> local_file_system(bool direct_io) {
  static const std::shared_ptr<FileSystem> buffered = std::make_shared<LocalFileSystem>(false);
  if (!direct_io) return buffered;
  static const std::shared_ptr<FileSystem> instance = std::make_shared<LocalFileSystem>(true);
  return instance;
}

// ".<name>.<owner>-<n>.tmp": two writers of one name (the instances of a group racing for a
// Delta version) each write their own temp file, so neither renames the other's bytes into place.
// Without an owner the process token is random, so processes on hosts sharing a file system differ too.
static std::string unique_temp_path(const std::string& dir, const std::string& name, std::string_view owner) {
  static const std::string process = [] {
    std::random_device rd;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>((static_cast<uint64_t>(rd()) << 32) ^ rd()));
    return std::string(hex);
  }();
  static std::atomic<uint64_t> counter{0};
  std::string out = dir + "/." + name + ".";
  out += owner.empty() ? std::string_view(process) : owner;
  out += "-" + std::to_string(counter.fetch_add(1)) + ".tmp";
  return out;
}

Status check_create_if_absent(FileSystem& fs, const std::string& dir, std::string_view setting) {
  if (!fs.is_object_store(dir)) return Status::success();
  std::random_device rd;
  const std::string path = dir + "/.kpipe-probe-" + std::to_string(rd()) + std::to_string(rd());
  Status first = fs.put_if_absent(path, "1");
  Status second = first.ok() ? fs.put_if_absent(path, "2") : first;
  (void)fs.remove(path);
  if (second.code() == StatusCode::kAlreadyExists) return Status::success();
  if (first.is_retriable() || second.is_retriable()) return second;  // the store out of reach: try again
  const std::string why = second.ok() ? "a second PUT with If-None-Match: * of one object succeeded (the header is "
                                        "ignored there)"
                                      : second.message();
  return Status::fatal(std::string(setting) + "='" + dir + "': the store cannot create an object only if absent (" +
                           why +
                           "), which instances of a group need to commit to one Delta log. Use a store that "
                           "honours conditional PUTs (AWS S3 does; S3Proxy 4.1.0 was tried), or a shared file system",
                       StatusCode::kInvalidArgument);
}

bool is_temp_file_of(std::string_view name, std::string_view temp_owner) {
  constexpr std::string_view kSuffix = ".tmp";
  if (temp_owner.empty() || name.size() < 2 || name.front() != '.' || !name.ends_with(kSuffix)) return false;
  name.remove_suffix(kSuffix.size());
  // ... "." owner "-" digits
  const size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash + 1 == name.size()) return false;
  for (char c : name.substr(dash + 1)) {
    if (c < '0' || c > '9') return false;
  }
  const std::string_view head = name.substr(0, dash);
  return head.size() > temp_owner.size() + 1 && head.ends_with(temp_owner) &&
         head[head.size() - temp_owner.size() - 1] == '.';
}

Status write_atomically(FileSystem& fs, const std::string& dir, const std::string& name, std::string_view bytes,
                        std::string_view temp_owner) {
  // An object store's upload is visible whole or not at all: no temp name needed (nor possible).
  if (fs.is_object_store(dir)) return fs.write_file(dir + "/" + name, bytes);
  const std::string tmp = unique_temp_path(dir, name, temp_owner);
  Status st = fs.write_file(tmp, bytes);
  if (st.ok()) st = fs.rename(tmp, dir + "/" + name);
  if (!st.ok()) {
    // Best effort: a temp file left behind is harmless (start-up removes it), the original
    // error is what the caller needs to see.
    (void)fs.remove(tmp);
    return st;
  }
  return fs.fsync_dir(dir);
}

Status create_atomically(FileSystem& fs, const std::string& dir, const std::string& name, std::string_view bytes,
                         std::string_view temp_owner) {
  const std::string tmp = unique_temp_path(dir, name, temp_owner);
  const std::string path = dir + "/" + name;
  if (fs.is_object_store(dir)) {
    Status put = fs.put_if_absent(path, bytes);
    if (put.ok()) return put;
    if (put.code() == StatusCode::kAlreadyExists) {
      auto existing = fs.read_file(path);
      if (!existing.ok()) return existing.status();      // cannot tell whose it is: the step is tried again
      if (*existing == bytes) return Status::success();  // our own earlier try
      return Status::fatal(path + " exists (written by another writer)", StatusCode::kAlreadyExists);
    }
    if (put.code() != StatusCode::kUnimplemented) return put;
    // A store without conditional puts: look, then upload. Two writers could both find the name
    // free; the writer fence keeps the second one from getting here (GROUP_ID is refused there).
    auto existing = fs.read_file(path);
    if (existing.ok()) {
      if (*existing == bytes) return Status::success();
      return Status::fatal(path + " exists (written by another writer)", StatusCode::kAlreadyExists);
    }
    if (existing.status().code() != StatusCode::kNotFound) return existing.status();
    return fs.write_file(path, bytes);
  }
  Status st = fs.write_file(tmp, bytes);
  if (st.ok()) st = fs.rename_no_replace(tmp, path);
  if (!st.ok()) {
    (void)fs.remove(tmp);
    if (st.code() != StatusCode::kAlreadyExists) return st;
    auto existing = fs.read_file(path);
    if (!existing.ok() || *existing != bytes) return st;
  }
  return fs.fsync_dir(dir);
}

void FaultyFileSystem::fail_on(Op op, int nth, Status status) {
  std::lock_guard lock(mutex_);
  count_rules_.push_back({op, calls_[static_cast<int>(op)] + nth, false, std::move(status)});
}

void FaultyFileSystem::fail_from(Op op, int nth, Status status) {
  std::lock_guard lock(mutex_);
  count_rules_.push_back({op, calls_[static_cast<int>(op)] + nth, true, std::move(status)});
}

void FaultyFileSystem::fail_path_containing(std::string substring, Status status, std::optional<Op> op) {
  std::lock_guard lock(mutex_);
  path_rules_.push_back({std::move(substring), op, std::move(status)});
}

void FaultyFileSystem::clear() {
  std::lock_guard lock(mutex_);
  count_rules_.clear();
  path_rules_.clear();
  torn_writes_ = false;
}

std::optional<Status> FaultyFileSystem::check(Op op, std::string_view path, std::string_view path2) {
  std::lock_guard lock(mutex_);
  const int call = ++calls_[static_cast<int>(op)];
  for (const CountRule& r : count_rules_) {
    if (r.op == op && (call == r.first_call || (r.sticky && call > r.first_call))) {
      ++failures_;
      return r.status;
    }
  }
  for (const PathRule& r : path_rules_) {
    if (r.op && *r.op != op) continue;
    if (path.find(r.substring) != std::string_view::npos ||
        (!path2.empty() && path2.find(r.substring) != std::string_view::npos)) {
      ++failures_;
      return r.status;
    }
  }
  return std::nullopt;
}

Status FaultyFileSystem::write_file(const std::string& path, std::string_view bytes) {
  if (auto st = check(Op::kWriteFile, path)) {
    bool torn;
    {
      std::lock_guard lock(mutex_);
      torn = torn_writes_;
    }
    if (torn) (void)inner_->write_file(path, bytes.substr(0, bytes.size() / 2));
    return *st;
  }
  return inner_->write_file(path, bytes);
}

Status FaultyFileSystem::rename(const std::string& from, const std::string& to) {
  if (auto st = check(Op::kRename, from, to)) return *st;
  return inner_->rename(from, to);
}

Status FaultyFileSystem::rename_no_replace(const std::string& from, const std::string& to) {
  if (auto st = check(Op::kRenameNoReplace, from, to)) return *st;
  return inner_->rename_no_replace(from, to);
}

Result<std::unique_ptr<FileLock>> FaultyFileSystem::lock_exclusive(const std::string& path, std::string_view owner) {
  if (auto st = check(Op::kLock, path)) return *st;
  return inner_->lock_exclusive(path, owner);
}

Status FaultyFileSystem::fsync_dir(const std::string& dir) {
  if (auto st = check(Op::kFsyncDir, dir)) return *st;
  return inner_->fsync_dir(dir);
}

Status FaultyFileSystem::remove(const std::string& path) {
  if (auto st = check(Op::kRemove, path)) return *st;
  return inner_->remove(path);
}

Status FaultyFileSystem::make_dirs(const std::string& dir) {
  if (auto st = check(Op::kMakeDirs, dir)) return *st;
  return inner_->make_dirs(dir);
}

Result<std::vector<std::string>> FaultyFileSystem::list_dir(const std::string& dir) {
  if (auto st = check(Op::kListDir, dir)) return *st;
  return inner_->list_dir(dir);
}

Result<std::string> FaultyFileSystem::read_file(const std::string& path) {
  if (auto st = check(Op::kReadFile, path)) return *st;
  return inner_->read_file(path);
}

bool FaultyFileSystem::exists(const std::string& path) {
  {
    std::lock_guard lock(mutex_);
    ++calls_[static_cast<int>(Op::kExists)];
  }
  return inner_->exists(path);
}

Result<int64_t> FaultyFileSystem::modified_time_ms(const std::string& path) {
  if (auto st = check(Op::kStat, path)) return *st;
  return inner_->modified_time_ms(path);
}

}  // namespace kpipe
