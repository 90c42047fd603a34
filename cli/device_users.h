#pragma once
#include <string>

namespace lazyroot::cli {

// Why the block device `name` ("ublkb0") must not be torn down now: "mounted
// on /", "held by dm-3 (other)", "open in pid 42 (fio)"; empty when nothing
// uses it. Our own dm mapping `own_mapping` (may be empty) on top of it is
// not a user itself; what uses that mapping is.
std::string device_users(const std::string& name, const std::string& own_mapping);

}  // namespace lazyroot::cli
