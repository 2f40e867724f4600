#pragma once
// A file written in pieces and published atomically: write_file_atomic's recipe (temporary file
// in the same folder, fsync, rename) for contents too large to hold in one std::string, such as
// a checkpoint shard of several GB streamed tensor by tensor.
#include <cstddef>
#include <string>

namespace kvmix {

class AtomicFileStream {
 public:
  // Creates PATH.tmp.PID next to `path`. Throws kvmix::Error naming it when that fails.
  explicit AtomicFileStream(std::string path);
  // Uncommitted (an exception midway): deletes the temporary file, leaving `path` as it was.
  ~AtomicFileStream();
  AtomicFileStream(const AtomicFileStream&) = delete;
  AtomicFileStream& operator=(const AtomicFileStream&) = delete;

  void write(const void* data, size_t bytes);
  // fsyncs the file, renames it over `path`, and fsyncs the folder so the rename survives a crash.
  void commit();

 private:
  // Closes and deletes the temporary file at once: a failed write (disk full, file size limit)
  // leaves nothing behind even while the stream object lives on.
  void discard() noexcept;

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

}  // namespace kvmix
