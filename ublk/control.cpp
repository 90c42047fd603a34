#include "ublk/control.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace lazyroot::ublk {

Control::Control() {
    fd_.reset(::open("/dev/ublk-control", O_RDWR | O_CLOEXEC));
    if (!fd_) {
        int e = errno;
        if (e == ENOENT)
            throw std::runtime_error(
                "/dev/ublk-control does not exist: load the ublk_drv kernel module (modprobe ublk_drv)");
        if (e == EACCES || e == EPERM)
            throw std::runtime_error("permission denied opening /dev/ublk-control: run as root");
        throw std::runtime_error(std::string("cannot open /dev/ublk-control: ") + std::strerror(e));
    }
    if (int r = ring_.init(4, IORING_SETUP_SQE128); r < 0)
        throw std::runtime_error(std::string("cannot create io_uring: ") + std::strerror(-r));

    // GET_FEATURES only exists ioctl-encoded (6.5+). Older kernels answer
    // -EINVAL, and then the legacy opcodes are the only ones they know.
    uint64_t feats = 0;
    ioctl_encode_ = true;
    int r = send(0, UBLK_U_CMD_GET_FEATURES, static_cast<uint32_t>(-1), &feats, sizeof(feats));
    if (r == 0) {
        features_ = feats;
        ioctl_encode_ = (feats & UBLK_F_CMD_IOCTL_ENCODE) != 0;
    } else {
        features_ = 0;
        ioctl_encode_ = false;
    }
}

int Control::send(unsigned legacy_op, unsigned ioctl_op, uint32_t dev_id, void* buf, uint16_t len, uint64_t data0) {
    io_uring* ring = ring_.raw();
    io_uring_sqe* sqe = io_uring_get_sqe(ring);
    if (!sqe) return -EBUSY;
    std::memset(sqe, 0, 2 * sizeof(*sqe));
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd_.get();
    sqe->cmd_op = ioctl_encode_ ? ioctl_op : legacy_op;

    ublksrv_ctrl_cmd cmd{};
    cmd.dev_id = dev_id;
    cmd.queue_id = static_cast<__u16>(-1);
    cmd.addr = reinterpret_cast<uintptr_t>(buf);
    cmd.len = len;
    cmd.data[0] = data0;
    static_assert(sizeof(cmd) <= 80, "control command must fit an SQE128 payload");
    std::memcpy(sqe->cmd, &cmd, sizeof(cmd));

    int r = io_uring_submit(ring);
    if (r < 0) return r;
    io_uring_cqe* cqe = nullptr;
    do {
        r = io_uring_wait_cqe(ring, &cqe);
    } while (r == -EINTR);
    if (r < 0) return r;
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

int Control::add_dev(ublksrv_ctrl_dev_info& info) {
    return send(UBLK_CMD_ADD_DEV, UBLK_U_CMD_ADD_DEV, info.dev_id, &info, sizeof(info));
}

int Control::set_params(uint32_t dev_id, ublk_params& params) {
    return send(UBLK_CMD_SET_PARAMS, UBLK_U_CMD_SET_PARAMS, dev_id, &params, sizeof(params));
}

int Control::start_dev(uint32_t dev_id, int daemon_pid) {
    return send(UBLK_CMD_START_DEV, UBLK_U_CMD_START_DEV, dev_id, nullptr, 0, static_cast<uint64_t>(daemon_pid));
}

int Control::stop_dev(uint32_t dev_id) { return send(UBLK_CMD_STOP_DEV, UBLK_U_CMD_STOP_DEV, dev_id, nullptr, 0); }

int Control::del_dev(uint32_t dev_id) { return send(UBLK_CMD_DEL_DEV, UBLK_U_CMD_DEL_DEV, dev_id, nullptr, 0); }

int Control::del_dev_nowait(uint32_t dev_id) {
    if (ioctl_encode_) {
        int r = send(0, UBLK_U_CMD_DEL_DEV_ASYNC, dev_id, nullptr, 0);
        if (r != -EINVAL && r != -EOPNOTSUPP) return r;
    }
    return del_dev(dev_id);
}

int Control::get_dev_info(uint32_t dev_id, ublksrv_ctrl_dev_info& info) {
    return send(UBLK_CMD_GET_DEV_INFO, UBLK_U_CMD_GET_DEV_INFO, dev_id, &info, sizeof(info));
}

int Control::get_params(uint32_t dev_id, ublk_params& params) {
    params.len = sizeof(params);
    return send(UBLK_CMD_GET_PARAMS, UBLK_U_CMD_GET_PARAMS, dev_id, &params, sizeof(params));
}

int Control::start_user_recovery(uint32_t dev_id) {
    return send(UBLK_CMD_START_USER_RECOVERY, UBLK_U_CMD_START_USER_RECOVERY, dev_id, nullptr, 0);
}

int Control::end_user_recovery(uint32_t dev_id, int daemon_pid) {
    return send(UBLK_CMD_END_USER_RECOVERY, UBLK_U_CMD_END_USER_RECOVERY, dev_id, nullptr, 0,
                static_cast<uint64_t>(daemon_pid));
}

}  // namespace lazyroot::ublk
