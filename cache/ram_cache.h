#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace lazyroot::cache {

// Where full and hydrate keep the image when there is no --cache: a tmpfs of
// its own, sized to the image (so not bound by /dev/shm's default of half of
// RAM), mounted on a private directory PARENT/lazyroot-ram-XXXXXX; unmounted
// and removed when destroyed. Where mounting is impossible (no
// CAP_SYS_ADMIN), that directory stays a plain one in PARENT's filesystem,
// whose free space the attach-time room check then judges.
//
// PARENT is /dev/shm in the daemon: systemd treats mounts below /dev as API
// file systems and leaves them alone at shutdown (umount.target and
// systemd-shutdown's last loop alike), while the root served from this one
// is still mounted. Under /run it would be a failed unmount at every shutdown.
class RamCacheDir {
public:
    // Throws std::runtime_error (one line) when RAM cannot hold `bytes`
    // (MemAvailable from `meminfo`), or no directory can be made.
    static std::unique_ptr<RamCacheDir> create(const std::string& parent, uint64_t bytes,
                                               const std::string& meminfo = "/proc/meminfo");
    // Takes over PATH, made by create() in a process that died, with what it
    // holds; a tmpfs is recognised by being a mount point.
    static std::unique_ptr<RamCacheDir> adopt(const std::string& path);
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
