#pragma once
#include <cstdint>
#include <span>
#include <string>

// Blocking whole-buffer file IO for `prepare` (a build-machine tool, never a
// queue thread). Each returns 0 or -errno. The same contract as cache/file_io.h;
// verity doesn't depend on the cache, so it keeps its own copy.
namespace lazyroot::verity {

// -ENODATA when the file ends before the buffer is full.
int pread_full(int fd, std::span<uint8_t> buf, uint64_t offset);
int pwrite_full(int fd, std::span<const uint8_t> buf, uint64_t offset);
// Makes a file's directory entry durable after creating or renaming it.
int fsync_parent_dir(const std::string& path);

}  // namespace lazyroot::verity
