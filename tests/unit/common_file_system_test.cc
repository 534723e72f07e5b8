#include "common/file_system.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace kpipe {
namespace {

using Op = FaultyFileSystem::Op;

class FileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kpipe_fs_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::shared_ptr<FileSystem> fs_ = local_file_system();
};

TEST_F(FileSystemTest, WriteReadRoundTripIncludingBinaryBytes) {
  std::string bytes("a\0b\xff\n", 5);
  ASSERT_TRUE(fs_->write_file(dir_ + "/f", bytes).ok());
  auto back = fs_->read_file(dir_ + "/f");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, bytes);
  // Truncates: a shorter second write leaves nothing of the first.
  ASSERT_TRUE(fs_->write_file(dir_ + "/f", "x").ok());
  EXPECT_EQ(*fs_->read_file(dir_ + "/f"), "x");
}

TEST_F(FileSystemTest, ReadsLargeFile) {
  std::string big(3 * 1024 * 1024 + 7, 'z');
  ASSERT_TRUE(fs_->write_file(dir_ + "/big", big).ok());
  EXPECT_EQ(fs_->read_file(dir_ + "/big")->size(), big.size());
}

TEST_F(FileSystemTest, ListDirIsSortedAndEmptyWhenAbsent) {
  for (const char* n : {"b", "a", ".hidden", "c10", "c2"}) ASSERT_TRUE(fs_->write_file(dir_ + "/" + n, n).ok());
  auto names = fs_->list_dir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{".hidden", "a", "b", "c10", "c2"}));
  auto none = fs_->list_dir(dir_ + "/missing");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(FileSystemTest, MakeDirsIsMkdirP) {
  const std::string deep = dir_ + "/a/b/c";
  ASSERT_TRUE(fs_->make_dirs(deep).ok());
  EXPECT_TRUE(std::filesystem::is_directory(deep));
  EXPECT_TRUE(fs_->make_dirs(deep).ok());  // exists already
  EXPECT_TRUE(fs_->make_dirs(deep + "/").ok());
  ASSERT_TRUE(fs_->write_file(dir_ + "/file", "x").ok());
  Status st = fs_->make_dirs(dir_ + "/file/sub");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir_ + "/file"), std::string::npos) << st.message();
}

TEST_F(FileSystemTest, RenameReplacesAndRemoveToleratesAbsent) {
  ASSERT_TRUE(fs_->write_file(dir_ + "/from", "new").ok());
  ASSERT_TRUE(fs_->write_file(dir_ + "/to", "old").ok());
  ASSERT_TRUE(fs_->rename(dir_ + "/from", dir_ + "/to").ok());
  EXPECT_FALSE(fs_->exists(dir_ + "/from"));
  EXPECT_EQ(*fs_->read_file(dir_ + "/to"), "new");
  EXPECT_TRUE(fs_->remove(dir_ + "/to").ok());
  EXPECT_TRUE(fs_->remove(dir_ + "/to").ok());
  EXPECT_FALSE(fs_->exists(dir_ + "/to"));
  EXPECT_TRUE(fs_->fsync_dir(dir_).ok());
}

TEST_F(FileSystemTest, ErrorsNameThePathAndAreFatalWhenAPersonMustAct) {
  Status st = fs_->write_file(dir_ + "/no/such/dir/f", "x");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_NE(st.message().find(dir_ + "/no/such/dir/f"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("No such file or directory"), std::string::npos) << st.message();

  auto read = fs_->read_file(dir_ + "/absent");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().kind(), ErrorKind::kFatal);

  st = fs_->rename(dir_ + "/absent", dir_ + "/x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(dir_ + "/absent"), std::string::npos);
}

// /dev/full fails every write with ENOSPC: the real errno, no mount needed.
TEST_F(FileSystemTest, DiskFullIsRetriable) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full not writable here";
  Status st = fs_->write_file("/dev/full", "some bytes");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kRetriable) << st.message();
  EXPECT_NE(st.message().find("/dev/full"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.message();
}

// Pages of `path` in the page cache now (mincore over a mapping, which reads nothing).
size_t resident_pages(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st;
  ::fstat(fd, &st);
  const size_t size = static_cast<size_t>(st.st_size);
  void* map = size > 0 ? ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
  ::close(fd);
  if (map == MAP_FAILED) return 0;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((size + page - 1) / page);
  size_t n = 0;
  if (::mincore(map, size, in.data()) == 0) {
    for (unsigned char c : in) n += c & 1;
  }
  ::munmap(map, size);
  return n;
}

std::string patterned(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + i / 4096) % 251);
  return s;
}

TEST_F(FileSystemTest, LargeFilesAreWrittenPastThePageCacheEveryByteAndNoPadding) {
  // Whether this directory's file system takes O_DIRECT at all (tmpfs before Linux 6.6 does not).
  auto probe = write_file_direct(dir_ + "/probe", patterned(kDirectIoMinBytes));
  ASSERT_TRUE(probe.ok()) << probe.status().message();
  const size_t mib = 1 << 20;
  for (size_t size : {kDirectIoMinBytes, kDirectIoMinBytes + 1, size_t{20 * 4096 - 1}, mib, mib + 1, 3 * mib + 4097}) {
    SCOPED_TRACE(size);
    const std::string bytes = patterned(size);
    const std::string path = dir_ + "/f" + std::to_string(size);
    ASSERT_TRUE(fs_->write_file(path, bytes).ok());
    if (*probe) {
      EXPECT_EQ(resident_pages(path), 0u) << "written through the page cache";
    }
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(static_cast<size_t>(st.st_size), size);
    EXPECT_TRUE(*fs_->read_file(path) == bytes);
  }
  // Smaller files, and every file with DIRECT_IO=false, go through the page cache.
  const std::string small = dir_ + "/small";
  ASSERT_TRUE(fs_->write_file(small, patterned(kDirectIoMinBytes - 1)).ok());
  EXPECT_GT(resident_pages(small), 0u);
  const std::string buffered = dir_ + "/buffered";
  ASSERT_TRUE(local_file_system(false)->write_file(buffered, patterned(mib)).ok());
  EXPECT_GT(resident_pages(buffered), 0u);
  EXPECT_TRUE(*fs_->read_file(buffered) == patterned(mib));
}

TEST_F(FileSystemTest, ADirectWriteReplacesALongerFileAndTakesAnyPowerOfTwoBlock) {
  const std::string path = dir_ + "/f";
  ASSERT_TRUE(fs_->write_file(path, patterned(3 << 20)).ok());
  const std::string shorter = patterned(kDirectIoMinBytes + 100);
  ASSERT_TRUE(fs_->write_file(path, shorter).ok());
  EXPECT_TRUE(*fs_->read_file(path) == shorter);
  for (size_t block : {size_t{512}, size_t{4096}, size_t{65536}}) {
    SCOPED_TRACE(block);
    const std::string bytes = patterned(100000 + block);
    auto written = write_file_direct(path, bytes, block);
    ASSERT_TRUE(written.ok()) << written.status().message();
    if (!*written) {
      ASSERT_TRUE(fs_->write_file(path, bytes).ok());  // refused: the caller's fallback
    }
    EXPECT_TRUE(*fs_->read_file(path) == bytes);
  }
  // Not a power of two, or larger than the buffer: refused before anything is opened.
  EXPECT_FALSE(*write_file_direct(dir_ + "/never", "x", 3000));
  EXPECT_FALSE(*write_file_direct(dir_ + "/never", "x", size_t{4} << 20));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never"));
}

TEST_F(FileSystemTest, ALargeFileOnAFullDiskIsRetriableToo) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "/dev/full not writable here";
  // A device takes no O_DIRECT (EINVAL at open on current kernels): the ordinary write says why.
  Status st = fs_->write_file("/dev/full", patterned(4 * kDirectIoMinBytes));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kRetriable) << st.message();
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.message();
}

TEST_F(FileSystemTest, WriteAtomicallyLeavesContentAndNoTempFile) {
  ASSERT_TRUE(write_atomically(*fs_, dir_, "7", "{\"batch\":7}\n").ok());
  EXPECT_EQ(*fs_->read_file(dir_ + "/7"), "{\"batch\":7}\n");
  EXPECT_EQ(*fs_->list_dir(dir_), std::vector<std::string>{"7"});
  // Overwrites an existing entry whole.
  ASSERT_TRUE(write_atomically(*fs_, dir_, "7", "v2").ok());
  EXPECT_EQ(*fs_->read_file(dir_ + "/7"), "v2");
  EXPECT_EQ(*fs_->list_dir(dir_), std::vector<std::string>{"7"});
}

TEST_F(FileSystemTest, TempFilesNamedAfterAnOwnerAreToldApart) {
  FaultyFileSystem faulty(fs_);
  std::vector<std::string> temps;
  faulty.fail_from(FaultyFileSystem::Op::kRename, 1, Status::fatal("killed"));
  faulty.fail_from(FaultyFileSystem::Op::kRemove, 1, Status::fatal("killed"));
  ASSERT_FALSE(write_atomically(faulty, dir_, "meta", "x", "a1b2").ok());
  ASSERT_FALSE(write_atomically(faulty, dir_, "meta", "x", "b2").ok());
  ASSERT_FALSE(write_atomically(faulty, dir_, "meta", "x").ok());
  for (const auto& e : std::filesystem::directory_iterator(dir_)) temps.push_back(e.path().filename().string());
  ASSERT_EQ(temps.size(), 3u);
  int a = 0, b = 0;
  for (const auto& t : temps) {
    EXPECT_TRUE(t.starts_with(".meta.") && t.ends_with(".tmp")) << t;
    a += is_temp_file_of(t, "a1b2");
    b += is_temp_file_of(t, "b2");  // a suffix of another owner is not that owner
  }
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  EXPECT_FALSE(is_temp_file_of(".meta.a1b2-x.tmp", "a1b2"));
  EXPECT_FALSE(is_temp_file_of("meta.a1b2-1.tmp", "a1b2"));
  EXPECT_FALSE(is_temp_file_of(".meta.a1b2-1.tmp", ""));
}

// An object store as create_atomically sees it: no rename, and put_if_absent honoured, ignored
// (a plain overwrite, as by a store that does not know If-None-Match) or refused.
class FakeObjectStore : public FaultyFileSystem {
 public:
  enum class Puts { kHonoured, kIgnored, kRefused };
  FakeObjectStore(std::shared_ptr<FileSystem> inner, Puts puts) : FaultyFileSystem(std::move(inner)), puts_(puts) {}
  bool is_object_store(const std::string&) const override { return true; }
  Status put_if_absent(const std::string& path, std::string_view bytes) override {
    ++conditional_puts;
    if (puts_ == Puts::kRefused) return Status::fatal("501", StatusCode::kUnimplemented);
    if (puts_ == Puts::kHonoured && exists(path)) return Status::fatal(path + " exists", StatusCode::kAlreadyExists);
    return write_file(path, bytes);
  }
  int conditional_puts = 0;

 private:
  Puts puts_;
};

TEST_F(FileSystemTest, CreateAtomicallyOnAnObjectStoreIsAConditionalPut) {
  FakeObjectStore store(fs_, FakeObjectStore::Puts::kHonoured);
  ASSERT_TRUE(create_atomically(store, dir_, "00001.json", "mine").ok());
  EXPECT_TRUE(create_atomically(store, dir_, "00001.json", "mine").ok()) << "our own earlier try";
  EXPECT_EQ(create_atomically(store, dir_, "00001.json", "theirs").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(fs_->read_file(dir_ + "/00001.json").value(), "mine");
  EXPECT_EQ(store.conditional_puts, 3);
  // A store without conditional puts: look, then upload (the single writer's fence covers it).
  FakeObjectStore plain(fs_, FakeObjectStore::Puts::kRefused);
  ASSERT_TRUE(create_atomically(plain, dir_, "00002.json", "a").ok());
  EXPECT_EQ(create_atomically(plain, dir_, "00002.json", "b").code(), StatusCode::kAlreadyExists);
}

TEST_F(FileSystemTest, AStoreThatIgnoresOrRefusesConditionalPutsIsNamedByTheProbe) {
  FakeObjectStore honoured(fs_, FakeObjectStore::Puts::kHonoured);
  EXPECT_TRUE(check_create_if_absent(honoured, dir_, "OUTPUT_PATH").ok());
  for (auto puts : {FakeObjectStore::Puts::kIgnored, FakeObjectStore::Puts::kRefused}) {
    FakeObjectStore store(fs_, puts);
    Status st = check_create_if_absent(store, dir_, "OUTPUT_PATH");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find("OUTPUT_PATH='" + dir_ + "'"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("only if absent"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir_)) << "the probe object is removed";
  EXPECT_TRUE(check_create_if_absent(*fs_, dir_, "OUTPUT_PATH").ok()) << "a local file system can";
}

TEST_F(FileSystemTest, WriteAtomicallyCallsWriteRenameFsyncInOrder) {
  FaultyFileSystem faulty(fs_);
  ASSERT_TRUE(write_atomically(faulty, dir_, "m", "x").ok());
  EXPECT_EQ(faulty.calls(Op::kWriteFile), 1);
  EXPECT_EQ(faulty.calls(Op::kRename), 1);
  EXPECT_EQ(faulty.calls(Op::kFsyncDir), 1);
}

TEST_F(FileSystemTest, WriteAtomicallyFailedRenameKeepsOldContentAndRemovesTemp) {
  ASSERT_TRUE(write_atomically(*fs_, dir_, "meta", "old").ok());
  FaultyFileSystem faulty(fs_);
  faulty.fail_on(Op::kRename, 1, Status::retriable("injected rename failure"));
  Status st = write_atomically(faulty, dir_, "meta", "new");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "injected rename failure");
  EXPECT_TRUE(st.is_retriable());
  EXPECT_EQ(*fs_->read_file(dir_ + "/meta"), "old");
  EXPECT_EQ(*fs_->list_dir(dir_), std::vector<std::string>{"meta"});
}

TEST_F(FileSystemTest, WriteAtomicallyTornWriteNeverReplacesTheFile) {
  ASSERT_TRUE(write_atomically(*fs_, dir_, "meta", "old").ok());
  FaultyFileSystem faulty(fs_);
  faulty.set_torn_writes(true);
  faulty.fail_on(Op::kWriteFile, 1, Status::retriable("disk full"));
  ASSERT_FALSE(write_atomically(faulty, dir_, "meta", "new content").ok());
  EXPECT_EQ(*fs_->read_file(dir_ + "/meta"), "old");
  EXPECT_EQ(faulty.calls(Op::kRename), 0);
}

TEST_F(FileSystemTest, FaultyFailsExactlyTheNthCallCountedFromNow) {
  FaultyFileSystem faulty(fs_);
  ASSERT_TRUE(faulty.write_file(dir_ + "/before", "x").ok());  // not counted towards the rule
  faulty.fail_on(Op::kWriteFile, 3, Status::fatal("third write"));
  EXPECT_TRUE(faulty.write_file(dir_ + "/1", "x").ok());
  EXPECT_TRUE(faulty.write_file(dir_ + "/2", "x").ok());
  Status st = faulty.write_file(dir_ + "/3", "x");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kFatal);
  EXPECT_EQ(st.message(), "third write");
  EXPECT_FALSE(fs_->exists(dir_ + "/3"));  // a failed call never reaches the real file system
  EXPECT_TRUE(faulty.write_file(dir_ + "/4", "x").ok());
  EXPECT_EQ(faulty.calls(Op::kWriteFile), 5);
  EXPECT_EQ(faulty.failures(), 1);
  // Other operations are unaffected by a write rule.
  EXPECT_TRUE(faulty.rename(dir_ + "/4", dir_ + "/5").ok());
}

TEST_F(FileSystemTest, FaultyFailFromKeepsFailingUntilCleared) {
  FaultyFileSystem faulty(fs_);
  faulty.fail_from(Op::kFsyncDir, 2, Status::retriable("EIO"));
  EXPECT_TRUE(faulty.fsync_dir(dir_).ok());
  EXPECT_FALSE(faulty.fsync_dir(dir_).ok());
  EXPECT_FALSE(faulty.fsync_dir(dir_).ok());
  faulty.clear();
  EXPECT_TRUE(faulty.fsync_dir(dir_).ok());
  EXPECT_EQ(faulty.calls(Op::kFsyncDir), 4);
  EXPECT_EQ(faulty.failures(), 2);
}

TEST_F(FileSystemTest, FaultyFailsEveryCallOnAMatchingPath) {
  FaultyFileSystem faulty(fs_);
  ASSERT_TRUE(faulty.make_dirs(dir_ + "/commits").ok());
  ASSERT_TRUE(faulty.write_file(dir_ + "/a", "x").ok());
  faulty.fail_path_containing("commits/", Status::fatal("no commits"));
  EXPECT_FALSE(faulty.write_file(dir_ + "/commits/1", "x").ok());
  EXPECT_FALSE(faulty.read_file(dir_ + "/commits/1").ok());
  EXPECT_FALSE(faulty.rename(dir_ + "/a", dir_ + "/commits/2").ok());  // matches the target path
  EXPECT_TRUE(fs_->exists(dir_ + "/a"));
  EXPECT_TRUE(faulty.write_file(dir_ + "/offsets_1", "x").ok());
  EXPECT_EQ(faulty.failures(), 3);

  faulty.clear();
  faulty.fail_path_containing("/b", Status::retriable("only removes"), Op::kRemove);
  EXPECT_TRUE(faulty.write_file(dir_ + "/b", "x").ok());
  EXPECT_FALSE(faulty.remove(dir_ + "/b").ok());
  EXPECT_TRUE(fs_->exists(dir_ + "/b"));
}

TEST_F(FileSystemTest, FaultyListDirAndReadFileFailures) {
  FaultyFileSystem faulty(fs_);
  faulty.fail_on(Op::kListDir, 1, Status::fatal("list"));
  faulty.fail_on(Op::kReadFile, 1, Status::retriable("read"));
  auto names = faulty.list_dir(dir_);
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().message(), "list");
  auto bytes = faulty.read_file(dir_ + "/x");
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().message(), "read");
  EXPECT_FALSE(faulty.exists(dir_ + "/x"));
  EXPECT_EQ(faulty.calls(Op::kExists), 1);
}

TEST_F(FileSystemTest, FaultyCountsConcurrentCallsExactly) {
  FaultyFileSystem faulty(fs_);
  faulty.fail_on(Op::kWriteFile, 50, Status::retriable("the 50th"));
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        if (!faulty.write_file(dir_ + "/t" + std::to_string(t) + "_" + std::to_string(i), "x").ok()) ++failed;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(faulty.calls(Op::kWriteFile), 100);
  EXPECT_EQ(failed.load(), 1);
  EXPECT_EQ(fs_->list_dir(dir_)->size(), 99u);
}

}  // namespace
}  // namespace kpipe

namespace kpipe {
namespace {

class NoReplaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kpipe_noreplace_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::shared_ptr<FileSystem> fs_ = local_file_system();
};

TEST_F(NoReplaceTest, RenameNoReplaceNeverOverwrites) {
  ASSERT_TRUE(fs_->write_file(dir_ + "/a", "first").ok());
  ASSERT_TRUE(fs_->write_file(dir_ + "/b", "second").ok());
  Status st = fs_->rename_no_replace(dir_ + "/b", dir_ + "/a");
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*fs_->read_file(dir_ + "/a"), "first");
  ASSERT_TRUE(fs_->rename_no_replace(dir_ + "/b", dir_ + "/c").ok());
  EXPECT_EQ(*fs_->read_file(dir_ + "/c"), "second");
  EXPECT_FALSE(fs_->exists(dir_ + "/b"));
}

TEST_F(NoReplaceTest, CreateAtomicallyOfTwoWritersOneWins) {
  ASSERT_TRUE(create_atomically(*fs_, dir_, "7", "writer A").ok());
  Status st = create_atomically(*fs_, dir_, "7", "writer B");
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(*fs_->read_file(dir_ + "/7"), "writer A");
  // The same bytes again: our own earlier try, success; no temp file left either way.
  EXPECT_TRUE(create_atomically(*fs_, dir_, "7", "writer A").ok());
  EXPECT_EQ(*fs_->list_dir(dir_), std::vector<std::string>{"7"});
}

TEST_F(NoReplaceTest, LockIsExclusiveNamesItsHolderAndEndsWithIt) {
  auto first = fs_->lock_exclusive(dir_ + "/lock", "pid 1 on host h");
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = fs_->lock_exclusive(dir_ + "/lock", "pid 2 on host h");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kLocked);
  EXPECT_EQ(second.status().message(), "pid 1 on host h");
  first->reset();
  EXPECT_EQ(*fs_->read_file(dir_ + "/lock"), "");  // a clean release empties the owner line
  EXPECT_TRUE(fs_->lock_exclusive(dir_ + "/lock", "pid 2 on host h").ok());
}

}  // namespace
}  // namespace kpipe
