#include "ublk/params.h"

#include <algorithm>

namespace lazyroot::ublk {
namespace {

size_t round_up(size_t v, size_t align) { return (v + align - 1) / align * align; }

}  // namespace

unsigned default_queue_count(unsigned online_cpus) { return std::clamp(online_cpus, 1u, 4u); }

std::string validate(const DeviceConfig& cfg) {
    if (cfg.queues < 1 || cfg.queues > kMaxQueues)
        return "ublk device: " + std::to_string(cfg.queues) + " queues (the driver takes 1 to " +
               std::to_string(kMaxQueues) + ")";
    if (cfg.depth < 1 || cfg.depth > kMaxDepth)
        return "ublk device: queue depth " + std::to_string(cfg.depth) + " (the driver takes 1 to " +
               std::to_string(kMaxDepth) + ")";
    if (cfg.max_io_bytes < kMinIoBytes || cfg.max_io_bytes > kMaxIoBytes || cfg.max_io_bytes % 4096 != 0)
        return "ublk device: largest IO " + std::to_string(cfg.max_io_bytes) +
               " bytes (the driver takes a multiple of 4096 from 4 KiB to 32 MiB)";
    return {};
}

ublksrv_ctrl_dev_info make_dev_info(const DeviceConfig& cfg, uint64_t flags) {
    ublksrv_ctrl_dev_info info{};
    info.nr_hw_queues = static_cast<__u16>(cfg.queues);
    info.queue_depth = static_cast<__u16>(cfg.depth);
    info.max_io_buf_bytes = cfg.max_io_bytes;
    info.dev_id = static_cast<__u32>(-1);  // let the kernel pick
    info.flags = flags;
    return info;
}

uint64_t choose_flags(uint64_t kernel_features, bool zero_copy) {
    // Only what this daemon implements. With USER_RECOVERY a dead daemon's
    // device stays and its IO waits for a successor; REISSUE replays what
    // the dead one held, which is safe for a read-only image.
    uint64_t f = kernel_features & (UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE);
    if (zero_copy && (kernel_features & kZeroCopyFlags) == kZeroCopyFlags) f |= kZeroCopyFlags;
    return f;
}

ublk_params make_params(uint64_t image_bytes, uint32_t max_io_bytes) {
    ublk_params p{};
    p.len = sizeof(p);
    p.types = UBLK_PARAM_TYPE_BASIC;
    p.basic.attrs = UBLK_ATTR_READ_ONLY;
    p.basic.logical_bs_shift = 9;
    p.basic.physical_bs_shift = 12;
    p.basic.io_opt_shift = 12;
    p.basic.io_min_shift = 12;
    p.basic.max_sectors = max_io_bytes >> 9;
    // A tail shorter than a sector is still exposed; the queue pads it with zeros.
    p.basic.dev_sectors = (image_bytes + 511) >> 9;
    return p;
}

off_t descriptor_offset(unsigned q_id, size_t page_size) {
    size_t per_queue = round_up(kMaxDepth * sizeof(ublksrv_io_desc), page_size);
    return static_cast<off_t>(UBLKSRV_CMD_BUF_OFFSET + q_id * per_queue);
}

size_t descriptor_length(unsigned depth, size_t page_size) {
    return round_up(depth * sizeof(ublksrv_io_desc), page_size);
}

}  // namespace lazyroot::ublk
