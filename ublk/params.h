#pragma once
#include "ublk/uapi.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "io/memory_budget.h"

namespace lazyroot::ublk {

// What the user asked for; zero means "choose for me".
struct DeviceConfig {
    unsigned queues = 0;
    unsigned depth = 128;
    uint32_t max_io_bytes = 512 * 1024;
    // IO buffers beyond one per queue (see QueueConfig); null: one per tag.
    std::shared_ptr<io::MemoryBudget> io_budget = nullptr;
    // Use zero copy when the kernel offers it (--zero-copy=auto).
    bool zero_copy = true;
};

inline constexpr unsigned kMaxQueues = 16;
inline constexpr unsigned kMaxDepth = UBLK_MAX_QUEUE_DEPTH;
inline constexpr uint32_t kMinIoBytes = 4096;
inline constexpr uint32_t kMaxIoBytes = 1u << UBLK_IO_BUF_BITS;

// One queue per CPU, capped: more threads than cores only adds switching.
unsigned default_queue_count(unsigned online_cpus);

// Empty when valid, else a one-line reason.
std::string validate(const DeviceConfig& cfg);

// The ADD_DEV request for `cfg` (queues already resolved). `flags` are the
// UBLK_F_* the device is created with.
ublksrv_ctrl_dev_info make_dev_info(const DeviceConfig& cfg, uint64_t flags);

// Flags to request, given what the kernel reported through GET_FEATURES.
// Zero copy (`zero_copy`, and the kernel offers it) is AUTO_BUF_REG for the
// reads that go straight into a request, with USER_COPY for those that don't.
uint64_t choose_flags(uint64_t kernel_features, bool zero_copy = false);
inline constexpr uint64_t kZeroCopyFlags = UBLK_F_AUTO_BUF_REG | UBLK_F_USER_COPY;

// Parameters for a read-only root image of `image_bytes`, with IOs up to
// `max_io_bytes` (the value the kernel negotiated at ADD_DEV).
ublk_params make_params(uint64_t image_bytes, uint32_t max_io_bytes);

// Where queue `q_id`'s descriptor array sits in /dev/ublkcN, and its length.
off_t descriptor_offset(unsigned q_id, size_t page_size);
size_t descriptor_length(unsigned depth, size_t page_size);

}  // namespace lazyroot::ublk
