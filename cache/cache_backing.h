#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "io/unique_fd.h"

namespace lazyroot::cache {

// Where a cache's bytes live: chunk data at [0, image_size) of PATH, and the
// metadata either in the sidecar PATH.lzmeta (regular files) or in a reserved
// area at the end of PATH (block devices, or preallocated files on request).
struct CacheBacking {
    io::UniqueFd data_fd;  // O_RDWR | O_CLOEXEC, flock()ed: one lazyroot per cache
    io::UniqueFd meta_fd;
    uint64_t meta_offset = 0;  // of the metadata area within meta_fd
    bool sidecar = false;
    bool regular_file = false;    // the data area may be truncated and hole-punched
    uint64_t data_file_size = 0;  // regular files: the size PATH has now
    bool data_created = false;    // PATH was just created by open_backing
    bool meta_created = false;    // the sidecar was just created by open_backing
    std::string data_name;        // PATH
    std::string meta_name;        // for messages
};

// Creates PATH sparse (size 0; the store sizes it) when it does not exist and
// the metadata goes to a sidecar. Throws std::runtime_error (one line), and
// then leaves no file it created behind.
CacheBacking open_backing(const std::string& path, uint64_t image_size, uint64_t meta_bytes, bool metadata_at_end);

// The 4 KiB-aligned start of the metadata at the end of a device of
// device_size bytes, or nullopt when image and metadata don't both fit.
std::optional<uint64_t> trailing_metadata_offset(uint64_t device_size, uint64_t image_size, uint64_t meta_bytes);

}  // namespace lazyroot::cache
