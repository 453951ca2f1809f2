// bench/harness/results_file.h: atomic replacement, stream targets, path checks.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"

#include "bench/harness/results_file.h"
#include "tests/temp_dir.h"

namespace trainbench {
namespace {

TEST(ResultsFileTest, ReplacesTheWholeFileAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.path() + "/run.json";
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->atomic());
  // The check's probe file is gone; the run's lock is there until the final write.
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{".run.json.lock"});
  ASSERT_TRUE(f->Write("{[a", "]}", /*final=*/false).ok());
  EXPECT_EQ(ReadAll(path), "{[a]}");
  ASSERT_TRUE(f->Write("{[a,b", "]}", /*final=*/false).ok());
  EXPECT_EQ(ReadAll(path), "{[a,b]}");
  ASSERT_TRUE(f->Write("{[a,b]}", "", /*final=*/true).ok());
  EXPECT_EQ(ReadAll(path), "{[a,b]}");
  EXPECT_EQ(dir.Entries(), std::vector<std::string>{"run.json"});
}

TEST(ResultsFileTest, ASecondRunOnTheSameFileIsRefusedWithTheFirstOnesPid) {
  TempDir dir;
  const std::string path = dir.path() + "/run.json";
  absl::StatusOr<ResultsFile> first = ResultsFile::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->Write("{[a", "]}", /*final=*/false).ok());
  // Another open file description, as another process would have: flock(2) refuses it.
  absl::StatusOr<ResultsFile> second = ResultsFile::Open(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), absl::StrCat(path, ": in use by another trainbench run (pid ", ::getpid(),
                                                    "); wait for it to end or choose another --benchmark_out"));
  EXPECT_EQ(ReadAll(path), "{[a]}");  // untouched by the refused run
  // Through a symlink too: the lock is the target's.
  const std::string link = dir.path() + "/link.json";
  ASSERT_EQ(::symlink(path.c_str(), link.c_str()), 0);
  EXPECT_FALSE(ResultsFile::Open(link).ok());
  ASSERT_TRUE(first->Write("{[a]}", "", /*final=*/true).ok());
  // The final write releases it.
  absl::StatusOr<ResultsFile> third = ResultsFile::Open(path);
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST(ResultsFileTest, AFileOpenedBeforeAnUpdateStillReadsTheOldCompleteContents) {
  // What a reader (or a process killed mid-write) sees: the rename swaps whole files.
  TempDir dir;
  const std::string path = dir.path() + "/run.json";
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->Write("old", "", false).ok());
  std::ifstream before(path);
  ASSERT_TRUE(f->Write("new contents", "", false).ok());
  std::string seen;
  std::getline(before, seen);
  EXPECT_EQ(seen, "old");
  EXPECT_EQ(ReadAll(path), "new contents");
}

TEST(ResultsFileTest, KeepsAnExistingFilesPermissions) {
  TempDir dir;
  const std::string path = dir.path() + "/run.json";
  { std::ofstream(path) << "x"; }
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->Write("y", "", true).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(ResultsFileTest, BadPathsAreNamedWithTheReason) {
  TempDir dir;
  const std::string missing = dir.path() + "/no/such/run.json";
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(missing);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), absl::StrCat(missing, ": directory ", dir.path(), "/no/such does not exist"));

  f = ResultsFile::Open(dir.path());
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), absl::StrCat(dir.path(), ": is a directory"));

  const std::string file = dir.path() + "/plain";
  { std::ofstream(file) << "x"; }
  f = ResultsFile::Open(file + "/run.json");
  ASSERT_FALSE(f.ok());
  EXPECT_TRUE(absl::StartsWith(f.status().message(), file + "/run.json: ")) << f.status();
  EXPECT_TRUE(dir.Entries() == std::vector<std::string>{"plain"});

  // A dangling link is refused, and stays a link (the first update's rename replaced it).
  const std::string link = dir.path() + "/dangling.json";
  ASSERT_EQ(::symlink((dir.path() + "/gone/run.json").c_str(), link.c_str()), 0);
  f = ResultsFile::Open(link);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), absl::StrCat(link, ": a symbolic link to a file that does not exist"));
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(ResultsFileTest, ANonWritableDirectoryIsNamed) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes into a 0555 directory; tests/test_faults.py runs this as nobody";
  TempDir dir;
  const std::string ro = dir.path() + "/ro";
  ASSERT_EQ(::mkdir(ro.c_str(), 0555), 0);
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(ro + "/run.json");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), absl::StrCat(ro, "/run.json: cannot create a file in ", ro, ": Permission denied"));
  ::chmod(ro.c_str(), 0755);
}

TEST(ResultsFileTest, ADeviceIsWrittenInPlaceAndAFullOneIsAnError) {
  absl::StatusOr<ResultsFile> null_file = ResultsFile::Open("/dev/null");
  ASSERT_TRUE(null_file.ok()) << null_file.status();
  EXPECT_FALSE(null_file->atomic());
  EXPECT_TRUE(null_file->Write("abc", "]", false).ok());
  EXPECT_TRUE(null_file->Write("abcdef", "]", true).ok());

  absl::StatusOr<ResultsFile> full = ResultsFile::Open("/dev/full");
  ASSERT_TRUE(full.ok()) << full.status();  // writable: the failure comes with the first write
  const absl::Status s = full->Write("{", "}", false);
  EXPECT_EQ(s.message(), "/dev/full: write failed: No space left on device");
}

TEST(ResultsFileTest, AStreamTargetGetsEachByteOnceAndTheTailAtTheEnd) {
  // A pipe (as --benchmark_out=/dev/stdout | ... would be) cannot be renamed over.
  TempDir dir;
  const std::string fifo = dir.path() + "/stream";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  absl::StatusOr<ResultsFile> f = ResultsFile::Open(fifo);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->atomic());
  ASSERT_TRUE(f->Write("{[a", "]}", false).ok());
  ASSERT_TRUE(f->Write("{[a,b", "]}", false).ok());
  ASSERT_TRUE(f->Write("{[a,b", "]}", true).ok());
  char buf[64] = {};
  const ssize_t n = ::read(reader, buf, sizeof(buf) - 1);
  ::close(reader);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "{[a,b]}");
}

}  // namespace
}  // namespace trainbench
