#include "ublk/features.h"

#include <iterator>

#include "ublk/uapi.h"

namespace lazyroot::ublk {

namespace {

// The UBLK_F_* bits by name, as numbered in linux/ublk_cmd.h up to 6.17 (later
// bits print as bitN: 7.3 reports bits 0-20). Written
// out here because the build host's uapi header (6.12) lacks the newer ones.
constexpr const char* kNames[] = {
    "SUPPORT_ZERO_COPY",       // 0
    "URING_CMD_COMP_IN_TASK",  // 1
    "NEED_GET_DATA",           // 2
    "USER_RECOVERY",           // 3
    "USER_RECOVERY_REISSUE",   // 4
    "UNPRIVILEGED_DEV",        // 5
    "CMD_IOCTL_ENCODE",        // 6
    "USER_COPY",               // 7
    "ZONED",                   // 8
    "USER_RECOVERY_FAIL_IO",   // 9
    "UPDATE_SIZE",             // 10
    "AUTO_BUF_REG",            // 11
    "QUIESCE",                 // 12
    "PER_IO_DAEMON",           // 13
    "BUF_REG_OFF_DAEMON",      // 14
};

}  // namespace

std::vector<std::string> zero_copy_offered(uint64_t kernel_features) {
    std::vector<std::string> out;
    if (kernel_features & UBLK_F_SUPPORT_ZERO_COPY) out.emplace_back("SUPPORT_ZERO_COPY");
    if (kernel_features & UBLK_F_AUTO_BUF_REG) out.emplace_back("AUTO_BUF_REG");
    return out;
}

std::vector<std::string> feature_names(uint64_t kernel_features) {
    std::vector<std::string> out;
    for (unsigned bit = 0; bit < 64; ++bit) {
        if (!(kernel_features & (1ULL << bit))) continue;
        if (bit < std::size(kNames))
            out.emplace_back(kNames[bit]);
        else
            out.emplace_back("bit" + std::to_string(bit));
    }
    return out;
}

}  // namespace lazyroot::ublk
