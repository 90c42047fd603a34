// ublk-features-probe: prints the UBLK_F_* bits the running kernel's ublk
// driver reports through UBLK_U_CMD_GET_FEATURES, as 0x%llx, independently of
// lazyroot's own ublk code: vm.ublk_features compares `lazyroot status` with it.
// Exit 1 with one line on stderr when the command fails.
#include <fcntl.h>
#include <liburing.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/ublk_cmd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

int main() {
    const int fd = ::open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "ublk-features-probe: /dev/ublk-control: %s\n", std::strerror(errno));
        return 1;
    }
    io_uring ring;
    if (int r = io_uring_queue_init(2, &ring, IORING_SETUP_SQE128); r < 0) {
        std::fprintf(stderr, "ublk-features-probe: io_uring: %s\n", std::strerror(-r));
        return 1;
    }
    uint64_t features = 0;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
        std::fprintf(stderr, "ublk-features-probe: no free SQE\n");
        return 1;
    }
    std::memset(sqe, 0, 2 * sizeof(*sqe));  // IORING_SETUP_SQE128: a slot is two sqe structs
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = UBLK_U_CMD_GET_FEATURES;
    ublksrv_ctrl_cmd cmd{};
    cmd.dev_id = static_cast<__u32>(-1);
    cmd.queue_id = static_cast<__u16>(-1);
    cmd.addr = reinterpret_cast<uintptr_t>(&features);
    cmd.len = sizeof(features);
    std::memcpy(sqe->cmd, &cmd, sizeof(cmd));
    io_uring_submit(&ring);
    io_uring_cqe* cqe = nullptr;
    if (int r = io_uring_wait_cqe(&ring, &cqe); r < 0) {
        std::fprintf(stderr, "ublk-features-probe: wait: %s\n", std::strerror(-r));
        return 1;
    }
    if (cqe->res < 0) {
        std::fprintf(stderr, "ublk-features-probe: GET_FEATURES: %s\n", std::strerror(-cqe->res));
        return 1;
    }
    std::printf("0x%llx\n", static_cast<unsigned long long>(features));
    return 0;
}
