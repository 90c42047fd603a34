#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lazyroot::ublk {

// What the kernel's ublk driver says it can do (UBLK_U_CMD_GET_FEATURES), as
// far as lazyroot reports it. Zero copy is only detected: the daemon always
// serves through its own buffers (the copy path).
//   SUPPORT_ZERO_COPY  6.15+: UBLK_U_IO_REGISTER_IO_BUF puts the request's
//                      pages in an io_uring fixed buffer (before 6.15 the
//                      driver masks the bit out of GET_FEATURES).
//   AUTO_BUF_REG       6.16+: the driver registers that buffer by itself.
std::vector<std::string> zero_copy_offered(uint64_t kernel_features);

// Every UBLK_F_* name set in `kernel_features`, lowest bit first; unknown bits
// as "bitN".
std::vector<std::string> feature_names(uint64_t kernel_features);

}  // namespace lazyroot::ublk
