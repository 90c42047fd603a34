#pragma once
#include <cstdint>
#include <span>
#include <string>

// Blocking whole-buffer file IO for setup and background threads (the cache
// committer, `prepare`), never a queue thread. Each returns 0 or -errno.
namespace lazyroot::io {

// -ENODATA when the file ends before the buffer is full.
int pread_full(int fd, std::span<uint8_t> buf, uint64_t offset);
int pwrite_full(int fd, std::span<const uint8_t> buf, uint64_t offset);
int write_zeros(int fd, uint64_t offset, uint64_t len);
// Makes a file's directory entry durable after creating it.
int fsync_parent_dir(const std::string& path);

}  // namespace lazyroot::io
