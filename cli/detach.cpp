#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/device_users.h"
#include "cli/state_file.h"
#include "io/log.h"
#include "io/unique_fd.h"
#include "ublk/control.h"
#include "verity/activate.h"

namespace lazyroot::cli {
namespace {

// Waits for `pid` to exit without polling in a sleep loop.
bool wait_exit(pid_t pid, unsigned timeout_s) {
    io::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) return errno == ESRCH;
    pollfd pfd{pidfd.get(), POLLIN, 0};
    for (;;) {
        int n = ::poll(&pfd, 1, static_cast<int>(timeout_s * 1000));
        if (n < 0 && errno == EINTR) continue;
        return n > 0;
    }
}

// "/dev/mapper/NAME" names the verity mapping a daemon recorded in its state file.
unsigned resolve_device(const std::string& ref) {
    if (ref.rfind("/dev/mapper/", 0) != 0) return parse_device_ref(ref);
    for (const auto& j : read_all_states())
        if (j.value("verity_device", "") == ref) return j.value("dev_id", 0u);
    throw std::runtime_error("no lazyroot device behind " + ref);
}

}  // namespace

int run_detach(const DetachOptions& opts) {
    const unsigned id = resolve_device(opts.device);
    const std::string dev = "/dev/ublkb" + std::to_string(id);
    ublk::Control ctrl;

    ublksrv_ctrl_dev_info info{};
    if (int r = ctrl.get_dev_info(id, info); r < 0) {
        if (r == -ENODEV) throw std::runtime_error("no such device: " + dev);
        throw std::runtime_error("cannot query " + dev + ": " + std::strerror(-r));
    }

    const auto state = read_state(id);
    const std::string mapper = state ? state->value("verity_device", "") : "";
    const std::string own_mapping = mapper.empty() ? "" : mapper.substr(std::string("/dev/mapper/").size());
    if (!opts.force) {
        if (std::string users = device_users("ublkb" + std::to_string(id), own_mapping); !users.empty())
            throw std::runtime_error("not detaching " + (mapper.empty() ? dev : mapper) + ": " + users +
                                     " (--force tears it down anyway)");
    }

    const pid_t pid = info.ublksrv_pid;
    if (pid > 0 && ::kill(pid, 0) == 0 && is_lazyroot_process(pid)) {
        // SIGUSR1: stop even what is in use; SIGTERM stops only what is not.
        ::kill(pid, opts.force ? SIGUSR1 : SIGTERM);
        if (!wait_exit(pid, opts.timeout_s))
            throw std::runtime_error("daemon " + std::to_string(pid) + " serving " + dev + " did not exit within " +
                                     std::to_string(opts.timeout_s) + " s");
    }

    // A daemon that died without cleaning up leaves the device behind: remove
    // it here, the verity mapping on top first.
    if (ctrl.get_dev_info(id, info) == 0) {
        if (!own_mapping.empty()) verity::deactivate(own_mapping);
        ctrl.stop_dev(id);
        // Not waiting: with --force a mounted device is released only at umount.
        if (int r = ctrl.del_dev_nowait(id); r < 0 && r != -ENODEV)
            throw std::runtime_error("cannot delete " + dev + ": " + std::strerror(-r));
    }
    remove_state(id);
    return 0;
}

}  // namespace lazyroot::cli
