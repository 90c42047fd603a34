#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "io/source.h"

namespace lazyroot::nvmetcp {

struct NvmeTcpOptions;

// --nvme-transport=kernel: the kernel's nvme-tcp initiator connects (the
// options line libnvme's nvmf_add_ctrl writes to /dev/nvme-fabrics, written
// here so that libnvme is not a runtime dependency), and the namespace's
// block device is read like a file. For initrds that carry nvme-tcp anyway,
// and as a benchmark baseline. The controller is deleted when the source goes.
// Throws std::runtime_error (one line).
std::unique_ptr<io::Source> open_kernel_source(const NvmeTcpOptions& opts, unsigned queues);

}  // namespace lazyroot::nvmetcp
