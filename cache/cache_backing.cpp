#include "cache/cache_backing.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "io/file_io.h"

namespace lazyroot::cache {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error("cache " + path + ": " + what);
}

[[noreturn]] void fail_errno(const std::string& path, const std::string& what, int err) {
    fail(path, what + ": " + std::strerror(err));
}

// Opens an existing file, or creates it; tells which.
io::UniqueFd open_or_create(const std::string& path, int flags, bool& created) {
    io::UniqueFd fd(::open(path.c_str(), flags | O_CREAT | O_EXCL, 0600));
    created = static_cast<bool>(fd);
    if (!fd && errno == EEXIST) fd.reset(::open(path.c_str(), flags));
    return fd;
}

}  // namespace

std::optional<uint64_t> trailing_metadata_offset(uint64_t device_size, uint64_t image_size, uint64_t meta_bytes) {
    if (device_size < meta_bytes) return std::nullopt;
    const uint64_t off = (device_size - meta_bytes) & ~uint64_t{4095};
    if (off < image_size) return std::nullopt;
    return off;
}

CacheBacking open_backing(const std::string& path, uint64_t image_size, uint64_t meta_bytes, bool metadata_at_end) {
    CacheBacking b;
    b.data_name = path;
    // A failure below must not leave the files this call created.
    struct Undo {
        CacheBacking& b;
        bool armed = true;
        ~Undo() {
            if (!armed) return;
            if (b.meta_created) ::unlink(b.meta_name.c_str());
            if (b.data_created) ::unlink(b.data_name.c_str());
        }
    } undo{b};
    struct stat st {};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (!exists && errno != ENOENT) fail_errno(path, "stat", errno);
    if (exists && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) fail(path, "not a regular file or block device");
    const bool block = exists && S_ISBLK(st.st_mode);
    const bool at_end = block || metadata_at_end;
    if (!exists && at_end) fail(path, "does not exist (metadata at the end needs a preallocated file)");

    // O_EXCL on a block device: refuse one that is mounted or claimed by someone else.
    const int flags = O_RDWR | O_CLOEXEC | (block ? O_EXCL : 0);
    b.data_fd = at_end ? io::UniqueFd(::open(path.c_str(), flags)) : open_or_create(path, flags, b.data_created);
    if (!b.data_fd) fail_errno(path, "open", errno);
    if (::flock(b.data_fd.get(), LOCK_EX | LOCK_NB) != 0)
        fail_errno(path, errno == EWOULDBLOCK ? "in use by another lazyroot" : "flock", errno);

    // fstat the fd, not the name: the name may have changed since the stat above.
    if (::fstat(b.data_fd.get(), &st) != 0) fail_errno(path, "fstat", errno);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode) && ::ioctl(b.data_fd.get(), BLKGETSIZE64, &size) != 0)
        fail_errno(path, "BLKGETSIZE64", errno);
    b.regular_file = S_ISREG(st.st_mode);
    b.data_file_size = b.regular_file ? size : 0;

    if (at_end) {
        auto off = trailing_metadata_offset(size, image_size, meta_bytes);
        if (!off)
            fail(path, "holds " + std::to_string(size) + " bytes; the cache needs " + std::to_string(image_size) +
                           " (image) + " + std::to_string(meta_bytes) + " (metadata)");
        b.meta_offset = *off;
        b.meta_fd.reset(::fcntl(b.data_fd.get(), F_DUPFD_CLOEXEC, 0));
        if (!b.meta_fd) fail_errno(path, "dup", errno);
        b.meta_name = path + " (metadata at " + std::to_string(*off) + ")";
    } else {
        b.sidecar = true;
        b.meta_name = path + ".lzmeta";
        b.meta_fd = open_or_create(b.meta_name, O_RDWR | O_CLOEXEC, b.meta_created);
        if (!b.meta_fd) fail_errno(b.meta_name, "open", errno);
    }
    // A new name must be durable before metadata naming its contents is.
    if (b.data_created || b.meta_created)
        if (int r = io::fsync_parent_dir(path); r < 0) fail_errno(path, "fsync of its directory", -r);
    undo.armed = false;
    return b;
}

}  // namespace lazyroot::cache
