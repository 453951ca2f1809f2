#include "bench/harness/results_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
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
  return ResultsFile(path, target, /*atomic=*/true, mode);
}

ResultsFile::ResultsFile(std::string path, std::string target, bool atomic, unsigned mode)
    : path_(std::move(path)), target_(std::move(target)), atomic_(atomic), mode_(mode) {}

ResultsFile::ResultsFile(ResultsFile&& other) noexcept
    : path_(std::move(other.path_)),
      target_(std::move(other.target_)),
      atomic_(other.atomic_),
      mode_(other.mode_),
      stream_fd_(std::exchange(other.stream_fd_, -1)),
      streamed_bytes_(other.streamed_bytes_) {}

ResultsFile& ResultsFile::operator=(ResultsFile&& other) noexcept {
  if (this != &other) {
    if (stream_fd_ >= 0) ::close(stream_fd_);
    path_ = std::move(other.path_);
    target_ = std::move(other.target_);
    atomic_ = other.atomic_;
    mode_ = other.mode_;
    stream_fd_ = std::exchange(other.stream_fd_, -1);
    streamed_bytes_ = other.streamed_bytes_;
  }
  return *this;
}

ResultsFile::~ResultsFile() {
  if (stream_fd_ >= 0) ::close(stream_fd_);
}

absl::Status ResultsFile::Write(absl::string_view body, absl::string_view tail, bool final) {
  if (atomic_) return Replace(body, tail);
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
