#include "ublk/device.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <stdexcept>

#include "io/log.h"
#include "ublk/queue.h"
#include "io/thread_name.h"

namespace lazyroot::ublk {
namespace {

std::runtime_error fail(const std::string& what, int neg_errno) {
    return std::runtime_error(what + ": " + std::strerror(-neg_errno));
}

// /dev/ublkcN appears through devtmpfs right after ADD_DEV, but udev may still
// be adjusting it; retry briefly on ENOENT only.
int open_char_device(const std::string& path) {
    for (int attempt = 0;; ++attempt) {
        int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd >= 0 || errno != ENOENT || attempt == 50) return fd;
        ::usleep(20 * 1000);
    }
}

// The kernel takes a device from a dead daemon when io_uring cancels the
// daemon's waiting commands; a queue whose every tag the daemon held has none,
// and waits for the block layer's request timeout instead (30 s by default).
// While the daemon lives, ublk just rearms that timer, so a short one costs
// nothing and bounds how long a takeover waits.
void shorten_request_timeout(const std::string& disk) {
    const std::string path = "/sys/block/" + disk + "/queue/io_timeout";
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    [[maybe_unused]] ssize_t n = ::write(fd, "2000", 4);
    ::close(fd);
}

}  // namespace

std::unique_ptr<Device> Device::create(Control& ctrl, const DeviceConfig& cfg, io::Source& source) {
    if (std::string why = validate(cfg); !why.empty()) throw std::runtime_error(why);
    std::unique_ptr<Device> dev(new Device(ctrl, source));
    dev->io_budget_ = cfg.io_budget;

    dev->info_ = make_dev_info(cfg, choose_flags(ctrl.features(), cfg.zero_copy));
    if (int r = ctrl.add_dev(dev->info_); r < 0) throw fail("ublk ADD_DEV failed", r);
    dev->added_ = true;

    dev->cdev_.reset(open_char_device(dev->char_path()));
    if (!dev->cdev_) throw fail("cannot open " + dev->char_path(), -errno);

    ublk_params params = make_params(source.size(), dev->info_.max_io_buf_bytes);
    if (int r = ctrl.set_params(dev->id(), params); r < 0) throw fail("ublk SET_PARAMS failed", r);

    dev->start_queues();

    if (int r = ctrl.start_dev(dev->id(), ::getpid()); r < 0) throw fail("ublk START_DEV failed", r);
    dev->started_ = true;
    if (dev->info_.flags & UBLK_F_USER_RECOVERY) shorten_request_timeout("ublkb" + std::to_string(dev->id()));
    return dev;
}

namespace {

const char* state_name(uint16_t state) {
    switch (state) {
        case UBLK_S_DEV_DEAD:
            return "not started";
        case UBLK_S_DEV_LIVE:
            return "live";
        case UBLK_S_DEV_QUIESCED:
            return "quiesced";
        default:
            return "in an unknown state";
    }
}

bool process_alive(int pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::unique_ptr<Device> Device::recover(Control& ctrl, uint32_t dev_id, io::Source& source,
                                        std::chrono::milliseconds wait, std::shared_ptr<io::MemoryBudget> io_budget) {
    const std::string name = "/dev/ublkb" + std::to_string(dev_id);
    std::unique_ptr<Device> dev(new Device(ctrl, source));
    dev->io_budget_ = std::move(io_budget);
    if (int r = ctrl.get_dev_info(dev_id, dev->info_); r < 0) throw fail("cannot query " + name, r);
    if (!(dev->info_.flags & UBLK_F_USER_RECOVERY))
        throw std::runtime_error(name + " was created without user recovery; it cannot be taken over");

    ublk_params params{};
    if (int r = ctrl.get_params(dev_id, params); r < 0) throw fail("cannot read the parameters of " + name, r);
    if (params.basic.dev_sectors != (source.size() + 511) >> 9)
        throw std::runtime_error(name + " has " + std::to_string(params.basic.dev_sectors << 9) +
                                 " bytes but the image has " + std::to_string(source.size()));

    // The kernel quiesces a device some seconds after its daemon's death
    // (its monitor runs every 5 s on 6.12); until then START answers -EBUSY.
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        int r = ctrl.start_user_recovery(dev_id);
        if (r == 0) break;
        if (r != -EBUSY) throw fail("ublk START_USER_RECOVERY of " + name + " failed", r);
        ublksrv_ctrl_dev_info now{};
        ctrl.get_dev_info(dev_id, now);
        if (now.state == UBLK_S_DEV_LIVE && process_alive(now.ublksrv_pid) && now.ublksrv_pid != ::getpid())
            throw std::runtime_error(name + " is live, served by pid " + std::to_string(now.ublksrv_pid));
        if (std::chrono::steady_clock::now() >= deadline)
            throw std::runtime_error(name + " is " + state_name(now.state) +
                                     " and the kernel did not hand it over (its old daemon has not exited)");
        ::usleep(100 * 1000);
    }
    dev->added_ = true;
    dev->owned_ = false;
    dev->cdev_.reset(open_char_device(dev->char_path()));
    if (!dev->cdev_) throw fail("cannot open " + dev->char_path(), -errno);
    dev->start_queues();
    if (int r = ctrl.end_user_recovery(dev_id, ::getpid()); r < 0)
        throw fail("ublk END_USER_RECOVERY of " + name + " failed", r);
    dev->started_ = true;
    dev->owned_ = true;
    return dev;
}

void Device::start_queues() {
    queue_exited_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!queue_exited_) throw fail("eventfd", -errno);
    QueueConfig qc;
    qc.depth = info_.queue_depth;
    qc.max_io_bytes = info_.max_io_buf_bytes;
    qc.cdev_fd = cdev_.get();
    qc.ioctl_encode = (info_.flags & UBLK_F_CMD_IOCTL_ENCODE) != 0;
    qc.io_budget = io_budget_;
    // From the device's flags: a successor serves as its predecessor set it up.
    qc.zero_copy = (info_.flags & kZeroCopyFlags) == kZeroCopyFlags;
    qc.zero_copy_reads = &zero_copy_reads_;

    for (unsigned q = 0; q < info_.nr_hw_queues; ++q) {
        qc.q_id = q;
        exit_requests_.emplace_back(::eventfd(0, EFD_CLOEXEC));
        if (!exit_requests_.back()) throw fail("eventfd", -errno);
        qc.exit_fd = exit_requests_.back().get();
        std::promise<int> prepared;
        std::future<int> ready = prepared.get_future();
        threads_.emplace_back([qc, this, p = std::move(prepared)]() mutable {
            // Termination signals belong to the main thread.
            sigset_t all;
            sigfillset(&all);
            pthread_sigmask(SIG_BLOCK, &all, nullptr);
            io::name_this_thread("lr-queue-" + std::to_string(qc.q_id));
            Queue queue(qc, source_);
            int r = queue.prepare();
            p.set_value(r);
            if (r == 0) queue.run();
            uint64_t one = 1;
            [[maybe_unused]] ssize_t n = ::write(queue_exited_.get(), &one, sizeof(one));
        });
        // START_DEV waits for every tag of every queue to be fetched, so a
        // queue that failed to prepare must be caught before it.
        if (int r = ready.get(); r < 0) {
            throw fail("cannot set up ublk queue " + std::to_string(q), r);
        }
    }
}

void Device::join_queues() {
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

int Device::stop() {
    if (!added_) return 0;
    if (!owned_) {
        for (auto& fd : exit_requests_) {
            uint64_t one = 1;
            [[maybe_unused]] ssize_t n = ::write(fd.get(), &one, sizeof(one));
        }
        join_queues();
        cdev_.reset();
        added_ = false;
        return 0;
    }
    // STOP_DEV aborts every outstanding FETCH of a started device, which ends
    // each queue's loop. Before START_DEV the queues are told to leave instead.
    if (started_) {
        if (int r = ctrl_.stop_dev(id()); r < 0 && r != -ENODEV)
            log::warn("ublk STOP_DEV of %u: %s", id(), std::strerror(-r));
    } else {
        uint64_t one = 1;
        for (auto& fd : exit_requests_) {
            [[maybe_unused]] ssize_t n = ::write(fd.get(), &one, sizeof(one));
        }
    }
    join_queues();
    // DEL_DEV needs /dev/ublkcN closed. A process still holding /dev/ublkbN
    // (its IO fails now) must not keep the daemon alive, so don't wait for it.
    cdev_.reset();
    int r = ctrl_.del_dev_nowait(id());
    if (r < 0 && r != -ENODEV) log::warn("ublk DEL_DEV of %u: %s", id(), std::strerror(-r));
    added_ = false;
    started_ = false;
    return r == -ENODEV ? 0 : r;
}

Device::~Device() { stop(); }

}  // namespace lazyroot::ublk
