#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "io/source.h"
#include "io/unique_fd.h"
#include "ublk/control.h"
#include "ublk/params.h"

namespace lazyroot::ublk {

// A live /dev/ublkbN serving one source: ADD_DEV, queues, SET_PARAMS and
// START_DEV in create(); STOP_DEV, queue shutdown and DEL_DEV in stop() or
// the destructor, so no device outlives its owner.
class Device {
public:
    // Throws std::runtime_error with a one-line reason; nothing is left behind.
    static std::unique_ptr<Device> create(Control& ctrl, const DeviceConfig& cfg, io::Source& source);
    // Takes over /dev/ublkbN (`dev_id`) after its daemon died: waits for the
    // kernel to quiesce it (up to `wait`), serves every tag of every queue,
    // then END_USER_RECOVERY. Requests the dead daemon held are reissued.
    // Throws std::runtime_error with a one-line reason; the device is then
    // left as it was, its IO still waiting.
    static std::unique_ptr<Device> recover(Control& ctrl, uint32_t dev_id, io::Source& source,
                                           std::chrono::milliseconds wait,
                                           std::shared_ptr<io::MemoryBudget> io_budget = nullptr);
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;
    ~Device();

    uint32_t id() const { return info_.dev_id; }
    std::string block_path() const { return "/dev/ublkb" + std::to_string(info_.dev_id); }
    std::string char_path() const { return "/dev/ublkc" + std::to_string(info_.dev_id); }
    const ublksrv_ctrl_dev_info& info() const { return info_; }
    // Reads served straight into the request's pages (zero copy).
    bool zero_copy() const { return (info_.flags & kZeroCopyFlags) == kZeroCopyFlags; }
    uint64_t zero_copy_reads() const { return zero_copy_reads_.load(std::memory_order_relaxed); }

    // An eventfd that becomes readable when any queue stops serving, whether
    // after STOP_DEV or because it failed.
    int queue_exit_fd() const { return queue_exited_.get(); }

    // Stops serving and removes the device. Idempotent; returns 0 or -errno of DEL_DEV.
    int stop();
    // Stops serving but leaves the device, and the IO waiting on it, to a
    // successor (user recovery): for a device in use that this daemon can
    // no longer serve.
    void abandon() {
        owned_ = false;
        stop();
    }

private:
    Device(Control& ctrl, io::Source& source) : ctrl_(ctrl), source_(source) {}
    void start_queues();
    void join_queues();

    Control& ctrl_;
    io::Source& source_;
    ublksrv_ctrl_dev_info info_{};
    bool added_ = false;
    bool started_ = false;
    // False while a takeover is incomplete: a failed recovery must leave the
    // device (and the IO waiting on it) for the next attempt, not delete it.
    bool owned_ = true;
    io::UniqueFd cdev_;
    std::shared_ptr<io::MemoryBudget> io_budget_;  // shared by the queues' IO buffers
    io::UniqueFd queue_exited_;
    std::atomic<uint64_t> zero_copy_reads_{0};
    std::vector<io::UniqueFd> exit_requests_;
    std::vector<std::thread> threads_;
};

}  // namespace lazyroot::ublk
