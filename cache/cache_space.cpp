#include "cache/cache_space.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "cache/cache_format.h"

namespace lazyroot::cache {
namespace {

uint64_t allocated_bytes(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return 0;
    return static_cast<uint64_t>(st.st_blocks) * 512;
}

}  // namespace

std::optional<CacheRoom> cache_room(const CacheStore& store) {
    if (!store.regular_file()) return std::nullopt;
    struct statvfs vfs {};
    if (::fstatvfs(store.data_fd(), &vfs) != 0)
        throw std::runtime_error(std::string("cache: statvfs: ") + std::strerror(errno));
    // Root may also use the blocks a filesystem reserves for it (ext4's 5 %).
    const uint64_t free_blocks = ::geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail;
    CacheRoom room;
    room.available = free_blocks * vfs.f_frsize;
    // Chunks already cached (and holes punched elsewhere) are what st_blocks counts.
    uint64_t want = store.image_size();
    uint64_t have = allocated_bytes(store.data_fd());
    if (store.sidecar()) {
        want += metadata_bytes(store.chunk_count());
        have += allocated_bytes(store.meta_fd());
    }
    room.needed = want > have ? want - have : 0;
    return room;
}

void require_room_for_image(const CacheStore& store, const std::string& what_for) {
    auto room = cache_room(store);
    if (!room || room->needed <= room->available) return;
    throw std::runtime_error("cache " + store.path() + " cannot hold the image (" + what_for +
                             " keeps all of it): it needs " + human_bytes(room->needed) +
                             " more, and its filesystem has " + human_bytes(room->available) + " free");
}

std::optional<uint64_t> mem_available_bytes(const std::string& path) {
    std::ifstream in(path);
    std::string key;
    uint64_t kib = 0;
    std::string unit;
    while (in >> key >> kib) {
        std::getline(in, unit);
        if (key == "MemAvailable:") return kib * 1024;
    }
    return std::nullopt;
}

std::string human_bytes(uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    char buf[48];
    if (u == 0)
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
}

}  // namespace lazyroot::cache
