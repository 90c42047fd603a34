#include "cli/device_users.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lazyroot::cli {
namespace {

namespace fs = std::filesystem;

std::string read_line(const std::string& path) {
    std::ifstream in(path);
    std::string s;
    std::getline(in, s);
    return s;
}

// "maj:min" -> the first mount point of it in this mount namespace.
std::string mount_point_of(const std::string& majmin) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, dev, root, point;
        f >> id >> parent >> dev >> root >> point;
        if (dev == majmin) return point;
    }
    return {};
}

// Without udev, /dev/mapper/NAME is a node of its own rather than a link to
// /dev/dm-N, so an opener may name either.
std::string opener_of(const std::string& dev_path, const std::string& alias) {
    std::error_code ec;
    const std::string self = std::to_string(::getpid());
    for (const auto& p : fs::directory_iterator("/proc", ec)) {
        const std::string pid = p.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos || pid == self) continue;
        std::error_code fec;
        for (const auto& fd : fs::directory_iterator(p.path() / "fd", fec)) {
            std::error_code lec;
            const std::string target = fs::read_symlink(fd.path(), lec).string();
            if (target == dev_path || (!alias.empty() && target == alias))
                return "open in pid " + pid + " (" + read_line("/proc/" + pid + "/comm") + ")";
        }
    }
    return {};
}

std::string users_of(const std::string& name, const std::string& own_mapping, const std::string& alias = "") {
    const std::string sys = "/sys/block/" + name;
    if (std::string point = mount_point_of(read_line(sys + "/dev")); !point.empty()) return "mounted on " + point;
    std::error_code ec;
    for (const auto& h : fs::directory_iterator(sys + "/holders", ec)) {
        const std::string holder = h.path().filename().string();
        const std::string dm_name = read_line("/sys/block/" + holder + "/dm/name");
        if (!own_mapping.empty() && dm_name == own_mapping) {
            if (std::string why = users_of(holder, "", "/dev/mapper/" + dm_name); !why.empty())
                return "/dev/mapper/" + dm_name + " is " + why;
            continue;
        }
        return "held by " + (dm_name.empty() ? holder : "/dev/mapper/" + dm_name);
    }
    return opener_of("/dev/" + name, alias);
}

}  // namespace

std::string device_users(const std::string& name, const std::string& own_mapping) {
    return users_of(name, own_mapping);
}

}  // namespace lazyroot::cli
