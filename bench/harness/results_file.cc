#include "bench/harness/results_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace trainbench {
namespace {

std::string ErrnoText(int e) { return std::strerror(e); }

// The directory a file at path lives in, and its base name.
std::pair<std::string, std::string> SplitPath(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  if (slash == 0) return {"/", path.substr(1)};
  return {path.substr(0, slash), path.substr(slash + 1)};
}

// "<dir>/.<base>.tmp.XXXXXX": hidden, next to the target so that rename stays within one
// file system (rename across file systems fails with EXDEV).
std::string TempTemplate(const std::string& target) {
  const auto [dir, base] = SplitPath(target);
  return absl::StrCat(dir == "/" ? "" : dir, "/.", base, ".tmp.XXXXXX");
}

// Writes all of bytes to fd, resuming after partial writes and EINTR.
int WriteAll(int fd, absl::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// "<dir>/.<base>.lock": beside the target, for the run that writes it.
std::string LockPath(const std::string& target) {
  const auto [dir, base] = SplitPath(target);
  return absl::StrCat(dir == "/" ? "" : dir, "/.", base, ".lock");
}

// An exclusive flock(2) on LockPath(target), with this process's PID in the file, or an error
// naming the run that holds it. Two runs with one --benchmark_out would otherwise take turns
// replacing the file, and one run's results would be lost.
absl::StatusOr<int> LockResults(const std::string& path, const std::string& target) {
  const std::string lock = LockPath(target);
  // A holder that ends removes the file (Unlock): a lock then taken on the removed file guards
  // nothing, and the file is opened again.
  for (int attempt = 0; attempt < 16; ++attempt) {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      return absl::PermissionDeniedError(absl::StrCat(path, ": cannot create ", lock, ": ", ErrnoText(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int e = errno;
      char pid[32] = {};
      const ssize_t n = ::pread(fd, pid, sizeof(pid) - 1, 0);
      ::close(fd);
      if (e != EWOULDBLOCK)
        return absl::UnavailableError(absl::StrCat(path, ": cannot lock ", lock, ": ", ErrnoText(e)));
      const std::string holder = n > 0 ? absl::StrCat(" (pid ", std::string(pid, static_cast<size_t>(n)), ")") : "";
      return absl::FailedPreconditionError(absl::StrCat(path, ": in use by another trainbench run", holder,
                                                        "; wait for it to end or choose another --benchmark_out"));
    }
    struct stat held, now;
    if (::fstat(fd, &held) == 0 && ::stat(lock.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      const std::string pid = absl::StrCat(::getpid());
      if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
        // The lock holds without the PID; the message of a refused run then names none.
      }
      return fd;
    }
    ::close(fd);
  }
  return absl::UnavailableError(absl::StrCat(path, ": cannot lock ", lock, ": it keeps being replaced"));
}

unsigned CurrentUmask() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

}  // namespace

absl::StatusOr<ResultsFile> ResultsFile::Open(const std::string& path) {
  if (path.empty() || path.back() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a file name"));
  }
  struct stat st;
  std::string target = path;
  unsigned mode = 0666 & ~CurrentUmask();  // what std::ofstream would create
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
    if (!S_ISREG(st.st_mode)) {
      // A device or pipe: written in place. access() rather than open(): opening a pipe with
      // no reader would block.
      if (::access(path.c_str(), W_OK) != 0) {
        return absl::PermissionDeniedError(absl::StrCat(path, ": not writable: ", ErrnoText(errno)));
      }
      return ResultsFile(path, path, /*atomic=*/false, 0);
    }
    // An existing file: keep its permissions; through a symlink, replace the file it names.
    mode = st.st_mode & 07777;
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) != nullptr) target = resolved;
    const int fd = ::open(target.c_str(), O_WRONLY | O_CLOEXEC);  // no O_TRUNC: only a check
    if (fd < 0) return absl::PermissionDeniedError(absl::StrCat(path, ": not writable: ", ErrnoText(errno)));
    ::close(fd);
  } else if (errno != ENOENT) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", ErrnoText(errno)));
  } else if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    // A dangling link: the rename of every update would replace the link with a file, and
    // whatever the link was meant to reach would never get the results.
    return absl::InvalidArgumentError(absl::StrCat(path, ": a symbolic link to a file that does not exist"));
  }
  const std::string dir = SplitPath(target).first;
  if (::stat(dir.c_str(), &st) != 0) {
    return absl::NotFoundError(errno == ENOENT ? absl::StrCat(path, ": directory ", dir, " does not exist")
                                               : absl::StrCat(path, ": directory ", dir, ": ", ErrnoText(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", dir, " is not a directory"));
  }
  // The real test of writability (permission bits do not bind root; a read-only mount binds
  // everyone): create the kind of temporary file every update will, and remove it.
  std::string probe = TempTemplate(target);
  const int fd = ::mkstemp(probe.data());
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat(path, ": cannot create a file in ", dir, ": ", ErrnoText(errno)));
  }
  ::close(fd);
  ::unlink(probe.c_str());
  absl::StatusOr<int> lock = LockResults(path, target);
  if (!lock.ok()) return lock.status();
  ResultsFile file(path, target, /*atomic=*/true, mode);
  file.lock_fd_ = *lock;
  file.lock_path_ = LockPath(target);
  return file;
}

void ResultsFile::Unlock() {
  if (lock_fd_ < 0) return;
  // Removed while still held: a run waiting on this file finds it replaced and opens the new one.
  ::unlink(lock_path_.c_str());
  ::close(lock_fd_);
  lock_fd_ = -1;
}

ResultsFile::ResultsFile(std::string path, std::string target, bool atomic, unsigned mode)
    : path_(std::move(path)), target_(std::move(target)), atomic_(atomic), mode_(mode) {}

ResultsFile::ResultsFile(ResultsFile&& other) noexcept
    : path_(std::move(other.path_)),
      target_(std::move(other.target_)),
      atomic_(other.atomic_),
      mode_(other.mode_),
      stream_fd_(std::exchange(other.stream_fd_, -1)),
      streamed_bytes_(other.streamed_bytes_),
      lock_fd_(std::exchange(other.lock_fd_, -1)),
      lock_path_(std::move(other.lock_path_)) {}

ResultsFile& ResultsFile::operator=(ResultsFile&& other) noexcept {
  if (this != &other) {
    if (stream_fd_ >= 0) ::close(stream_fd_);
    Unlock();
    path_ = std::move(other.path_);
    target_ = std::move(other.target_);
    atomic_ = other.atomic_;
    mode_ = other.mode_;
    stream_fd_ = std::exchange(other.stream_fd_, -1);
    streamed_bytes_ = other.streamed_bytes_;
    lock_fd_ = std::exchange(other.lock_fd_, -1);
    lock_path_ = std::move(other.lock_path_);
  }
  return *this;
}

ResultsFile::~ResultsFile() {
  if (stream_fd_ >= 0) ::close(stream_fd_);
  Unlock();
}

absl::Status ResultsFile::Write(absl::string_view body, absl::string_view tail, bool final) {
  if (atomic_) {
    absl::Status s = Replace(body, tail);
    // The run's last write, or a failed one (the run then ends: FailWrite): the process exits
    // without destructors (bench/harness/flags.h).
    if (final || !s.ok()) Unlock();
    return s;
  }
  if (body.size() < streamed_bytes_) {
    return absl::InternalError(absl::StrCat(path_, ": contents shrank between writes"));
  }
  absl::Status s = Append(body.substr(streamed_bytes_));
  if (!s.ok()) return s;
  streamed_bytes_ = body.size();
  return final ? Append(tail) : absl::OkStatus();
}

absl::Status ResultsFile::Replace(absl::string_view body, absl::string_view tail) {
  std::string temp = TempTemplate(target_);
  const int fd = ::mkstemp(temp.data());
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(path_, ": cannot create a temporary file: ", ErrnoText(errno),
                                               " (the previous complete file is kept)"));
  }
  const auto fail = [&](absl::string_view what, int e) {
    ::close(fd);
    ::unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat(path_, ": ", what, ": ", ErrnoText(e), " (the previous complete file is kept)"));
  };
  int e = WriteAll(fd, body);
  if (e == 0) e = WriteAll(fd, tail);
  if (e != 0) return fail("write failed", e);
  if (::fchmod(fd, mode_) != 0) return fail("write failed", errno);
  // On disk before the rename makes it the file: after a power loss the path holds either the
  // old or the new complete contents. (SIGKILL alone would not need it.)
  if (::fsync(fd) != 0) return fail("write failed", errno);
  if (::close(fd) != 0) {
    e = errno;
    ::unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat(path_, ": write failed: ", ErrnoText(e), " (the previous complete file is kept)"));
  }
  if (::rename(temp.c_str(), target_.c_str()) != 0) {
    e = errno;
    ::unlink(temp.c_str());
    return absl::UnavailableError(
        absl::StrCat(path_, ": rename failed: ", ErrnoText(e), " (the previous complete file is kept)"));
  }
  // The rename itself is durable once the directory is synced; best effort.
  const int dir_fd = ::open(SplitPath(target_).first.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return absl::OkStatus();
}

absl::Status ResultsFile::Append(absl::string_view bytes) {
  if (stream_fd_ < 0) {
    stream_fd_ = ::open(target_.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (stream_fd_ < 0) {
      return absl::UnavailableError(absl::StrCat(path_, ": cannot open: ", ErrnoText(errno)));
    }
  }
  if (const int e = WriteAll(stream_fd_, bytes); e != 0) {
    return absl::UnavailableError(absl::StrCat(path_, ": write failed: ", ErrnoText(e)));
  }
  return absl::OkStatus();
}

}  // namespace trainbench
