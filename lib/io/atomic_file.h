#pragma once
// Output files are written to a temporary file in the same folder, flushed, synced and renamed
// over the target, so a reader (or a resumed job) never sees a half-written file.
#include <string>

namespace kvmix {

// Writes `contents` to `path` atomically. Throws kvmix::Error naming the path on failure, having
// removed the temporary file.
void write_file_atomic(const std::string& path, const std::string& contents);

// Reads a whole file. Throws kvmix::Error naming the path when it cannot be read or is not a
// regular file (a FIFO would block the open, a folder read as empty).
std::string read_file(const std::string& path);

// Appends one line (a trailing newline is added) and fsyncs: the journal's durability.
void append_line_synced(const std::string& path, const std::string& line);

}  // namespace kvmix
