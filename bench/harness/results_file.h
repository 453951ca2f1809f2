// The results file (--benchmark_out): checked before anything runs, then rewritten whole after
// every finished benchmark so that, whatever kills the process, the file on disk is a complete
// document of everything finished so far.
//
// A regular file (or a path that does not exist yet) is replaced atomically: the new contents
// go to a temporary file in the same directory, are flushed to disk (fsync), and renamed over
// the path; a reader never sees a partial file, and a failed write leaves the previous complete
// file in place. Something that is not a regular file (/dev/full, /dev/stdout, a pipe) cannot be
// renamed over: it is written in place, as a stream, each byte once.
//
// One run at a time per file: Open takes an exclusive lock (flock(2) on a hidden
// ".<name>.lock" beside the file, holding the run's PID) until the final write; a second run
// with the same path is refused, naming the first one's PID. A run killed by SIGKILL leaves the
// lock file behind, unlocked: the next run takes it.
//
// Torch-free and Google-Benchmark-free (bench/harness/reporter.h renders the contents).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trainbench {

class ResultsFile {
 public:
  // Checks that path can be written, before any data is loaded: its directory exists and a file
  // can be created there (tried, then removed), or it is an existing writable non-regular file.
  // Errors name the path and the reason, e.g. "/no/such/run.json: directory /no/such does not
  // exist", "/ro/run.json: cannot create a file in /ro: Permission denied", "run.json: in use by
  // another trainbench run (pid 4242); wait for it to end or choose another --benchmark_out".
  static absl::StatusOr<ResultsFile> Open(const std::string& path);

  ResultsFile(ResultsFile&& other) noexcept;
  ResultsFile& operator=(ResultsFile&& other) noexcept;
  ResultsFile(const ResultsFile&) = delete;
  ~ResultsFile();

  // Makes the file hold body + tail. body only grows from one call to the next; tail is what
  // closes the document (JSON's "]}"), given separately because a stream target cannot take it
  // back: it gets body's new bytes now and tail only when final. Errors name the path and the
  // reason: "<path>: write failed: No space left on device (the previous complete file is kept)".
  absl::Status Write(absl::string_view body, absl::string_view tail, bool final);

  [[nodiscard]] const std::string& path() const { return path_; }
  // True when the file is replaced by a rename; false for a device or pipe written in place.
  [[nodiscard]] bool atomic() const { return atomic_; }

 private:
  ResultsFile(std::string path, std::string target, bool atomic, unsigned mode);
  absl::Status Replace(absl::string_view body, absl::string_view tail);
  absl::Status Append(absl::string_view bytes);
  void Unlock();  // removes the lock file and releases the lock, once

  std::string path_;    // as given, for messages
  std::string target_;  // what is written: path_ with an existing symlink resolved
  bool atomic_;
  unsigned mode_;              // permission bits of the file a rename puts in place
  int stream_fd_ = -1;         // stream targets: opened on the first write
  size_t streamed_bytes_ = 0;  // stream targets: body bytes already written
  int lock_fd_ = -1;           // regular targets: the flock(2) held until the final write
  std::string lock_path_;
};

}  // namespace trainbench
