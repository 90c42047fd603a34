#include "cache/ram_cache.h"

#include <sys/stat.h>

#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "cache/cache_space.h"
#include "io/log.h"

namespace lazyroot::cache {
namespace {

std::string make_temp_dir(const std::string& pattern) {
    std::vector<char> t(pattern.begin(), pattern.end());
    t.push_back('\0');
    if (!::mkdtemp(t.data())) return {};
    return t.data();
}

}  // namespace

std::unique_ptr<RamCacheDir> RamCacheDir::create(const std::string& parent, uint64_t bytes,
                                                 const std::string& meminfo) {
    // tmpfs counts whole pages; a little slack for the directory and rounding.
    const uint64_t size = (bytes + 4095) / 4096 * 4096 + (1u << 20);
    if (auto avail = mem_available_bytes(meminfo); avail && size > *avail)
        throw std::runtime_error("the image (" + human_bytes(bytes) + ") does not fit in RAM (" + human_bytes(*avail) +
                                 " available); give --cache=PATH on a disk");

    const std::string dir = make_temp_dir(parent + "/lazyroot-ram-XXXXXX");
    if (dir.empty()) throw std::runtime_error("cannot create a RAM cache in " + parent + ": " + std::strerror(errno));
    const std::string opts = "size=" + std::to_string(size) + ",mode=0700";
    if (::mount("lazyroot-ram", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts.c_str()) == 0)
        return std::unique_ptr<RamCacheDir>(new RamCacheDir(dir, true));
    log::warn("cannot mount a tmpfs for the RAM cache on %s (%s); keeping the image in %s", dir.c_str(),
              std::strerror(errno), parent.c_str());
    return std::unique_ptr<RamCacheDir>(new RamCacheDir(dir, false));
}

std::unique_ptr<RamCacheDir> RamCacheDir::adopt(const std::string& path) {
    struct stat self {
    }, parent{};
    const std::string up = path + "/..";
    if (::stat(path.c_str(), &self) != 0 || ::stat(up.c_str(), &parent) != 0 || !S_ISDIR(self.st_mode))
        throw std::runtime_error("the RAM cache " + path + " is gone");
    return std::unique_ptr<RamCacheDir>(new RamCacheDir(path, self.st_dev != parent.st_dev));
}

RamCacheDir::~RamCacheDir() {
    std::error_code ec;
    if (mounted_) {
        // Lazily: a descriptor still open somewhere must not keep the directory.
        if (::umount2(path_.c_str(), MNT_DETACH) != 0)
            log::warn("cannot unmount the RAM cache %s: %s", path_.c_str(), std::strerror(errno));
        ::rmdir(path_.c_str());
        return;
    }
    std::filesystem::remove_all(path_, ec);
}

}  // namespace lazyroot::cache
