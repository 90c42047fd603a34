#include "io/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <vector>

#include "io/unique_fd.h"

namespace lazyroot::io {

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

int write_zeros(int fd, uint64_t offset, uint64_t len) {
    const std::vector<uint8_t> zeros(static_cast<size_t>(std::min<uint64_t>(len, 1u << 20)), 0);
    while (len > 0) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(len, zeros.size()));
        if (int r = pwrite_full(fd, {zeros.data(), n}, offset); r < 0) return r;
        offset += n;
        len -= n;
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

}  // namespace lazyroot::io
