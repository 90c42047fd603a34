#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace lazyroot::cache {

// Where full and hydrate keep the image when there is no --cache: a tmpfs of
// its own, sized to the image, in a private directory under `parent` (so not
// bound by /dev/shm's default of half of RAM); unmounted and removed when
// destroyed. Where mounting is impossible (no CAP_SYS_ADMIN), a directory in
// /dev/shm instead, whose free space the attach-time room check then judges.
class RamCacheDir {
public:
    // Throws std::runtime_error (one line) when RAM cannot hold `bytes`
    // (MemAvailable from `meminfo`), or no directory can be made.
    static std::unique_ptr<RamCacheDir> create(const std::string& parent, uint64_t bytes,
                                               const std::string& meminfo = "/proc/meminfo");
    ~RamCacheDir();
    RamCacheDir(const RamCacheDir&) = delete;
    RamCacheDir& operator=(const RamCacheDir&) = delete;

    const std::string& path() const { return path_; }
    bool own_tmpfs() const { return mounted_; }

private:
    RamCacheDir(std::string path, bool mounted) : path_(std::move(path)), mounted_(mounted) {}
    std::string path_;
    bool mounted_;
};

}  // namespace lazyroot::cache
