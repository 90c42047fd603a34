#pragma once
#include "ublk/uapi.h"

#include <cstdint>
#include <string>

#include "io/ring.h"
#include "io/unique_fd.h"

namespace lazyroot::ublk {

// The /dev/ublk-control endpoint. Control commands are rare and made from the
// main thread, so each one waits for its own completion.
class Control {
public:
    // Throws std::runtime_error with a one-line, actionable reason.
    Control();

    // UBLK_F_* the kernel supports; 0 on kernels without GET_FEATURES.
    uint64_t features() const { return features_; }

    // Each returns 0 or -errno from the kernel.
    int add_dev(ublksrv_ctrl_dev_info& info);
    int set_params(uint32_t dev_id, ublk_params& params);
    int start_dev(uint32_t dev_id, int daemon_pid);
    int stop_dev(uint32_t dev_id);
    int del_dev(uint32_t dev_id);
    // Like del_dev, but returns without waiting for openers of /dev/ublkbN to
    // close it (6.9+); falls back to del_dev on older kernels.
    int del_dev_nowait(uint32_t dev_id);
    int get_dev_info(uint32_t dev_id, ublksrv_ctrl_dev_info& info);
    int get_params(uint32_t dev_id, ublk_params& params);
    // Takeover of a device whose daemon died (UBLK_F_USER_RECOVERY): START is
    // refused with -EBUSY until the kernel has quiesced the device.
    int start_user_recovery(uint32_t dev_id);
    int end_user_recovery(uint32_t dev_id, int daemon_pid);

private:
    int send(unsigned legacy_op, unsigned ioctl_op, uint32_t dev_id, void* buf, uint16_t len, uint64_t data0 = 0);

    io::UniqueFd fd_;
    io::Ring ring_;
    uint64_t features_ = 0;
    bool ioctl_encode_ = false;
};

}  // namespace lazyroot::ublk
