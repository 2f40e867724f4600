#pragma once
// For fuzz targets whose reader takes a path (the journals, task files, and the JSON readers
// whose load_* is the entry point kvmix uses): writes the fuzz input to a file in a private
// folder made once per process, in /dev/shm when there is one (no disk traffic per input).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace kvmix::fuzz {

inline const std::string& input_dir() {
  static const std::string dir = [] {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    if (const char* t = std::getenv("KVMIX_FUZZ_TMPDIR")) base = t;
    std::string tmpl = base + "/kvmix-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    return tmpl;
  }();
  return dir;
}

// Writes (replaces) `name` in the folder with the bytes and returns its path.
inline std::string write_input_file(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = input_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();
  return path;
}

}  // namespace kvmix::fuzz
