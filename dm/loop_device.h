#pragma once
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "io/unique_fd.h"

namespace lazyroot::dm {

// A read-only loop device over [offset, offset + size) of a file, with direct
// IO (no second copy in the page cache; tmpfs files fall back to buffered)
// and autoclear: it goes away when its last user (the dm table that takes it
// over) lets go, and also when the process that made it dies before any
// table holds it.
struct LoopDevice {
    std::string path;  // /dev/loopN
    dev_t dev = 0;
    io::UniqueFd fd;  // held until a table has it open
};

// Throws std::runtime_error (one line).
LoopDevice make_loop_device(const std::string& file, uint64_t offset, uint64_t size);

}  // namespace lazyroot::dm
