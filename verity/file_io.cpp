#include "verity/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "io/unique_fd.h"

namespace lazyroot::verity {

int pread_full(int fd, std::span<uint8_t> buf, uint64_t offset) {
    while (!buf.empty()) {
        const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -ENODATA;
        buf = buf.subspan(static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
    }
    return 0;
}

int pwrite_full(int fd, std::span<const uint8_t> buf, uint64_t offset) {
    while (!buf.empty()) {
        const ssize_t n = ::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -EIO;
        buf = buf.subspan(static_cast<size_t>(n));
        offset += static_cast<uint64_t>(n);
    }
    return 0;
}

int fsync_parent_dir(const std::string& path) {
    auto dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    io::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return -errno;
    return ::fsync(fd.get()) == 0 ? 0 : -errno;
}

}  // namespace lazyroot::verity
