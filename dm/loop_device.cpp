#include "dm/loop_device.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lazyroot::dm {
namespace {

std::runtime_error fail(const std::string& what) { return std::runtime_error(what + ": " + std::strerror(errno)); }

}  // namespace

LoopDevice make_loop_device(const std::string& file, uint64_t offset, uint64_t size) {
    io::UniqueFd backing(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!backing) throw fail("cannot open " + file);
    io::UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control) throw fail("cannot open /dev/loop-control");
    // Another process may take the free device between the two calls: EBUSY, try the next.
    for (int attempt = 0; attempt < 16; ++attempt) {
        const int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
        if (n < 0) throw fail("LOOP_CTL_GET_FREE");
        LoopDevice dev;
        dev.path = "/dev/loop" + std::to_string(n);
        dev.fd = io::UniqueFd(::open(dev.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!dev.fd) throw fail("cannot open " + dev.path);
        loop_config cfg{};
        cfg.fd = static_cast<uint32_t>(backing.get());
        cfg.block_size = 0;  // 512, as the ublk device it replaces
        cfg.info.lo_offset = offset;
        cfg.info.lo_sizelimit = size;
        cfg.info.lo_flags = LO_FLAGS_READ_ONLY | LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO;
        std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), file.c_str(), LO_NAME_SIZE - 1);
        if (::ioctl(dev.fd.get(), LOOP_CONFIGURE, &cfg) != 0) {
            if (errno == EBUSY) continue;
            throw fail("LOOP_CONFIGURE " + dev.path + " on " + file);
        }
        struct stat st {};
        if (::fstat(dev.fd.get(), &st) != 0) throw fail("fstat " + dev.path);
        dev.dev = st.st_rdev;
        return dev;
    }
    throw std::runtime_error("no free loop device for " + file);
}

}  // namespace lazyroot::dm
