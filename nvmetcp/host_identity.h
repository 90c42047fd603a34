#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace lazyroot::nvmetcp {

// Who this host says it is in Connect.
struct HostIdentity {
    std::string hostnqn;
    std::array<uint8_t, 16> hostid{};
};

// `hostnqn` if given, else /etc/nvme/hostnqn, else an NQN made from the host
// ID; the host ID comes from /etc/nvme/hostid, else the UUID in the NQN,
// else it is random. Read at attach only (never after switch_root).
HostIdentity host_identity(const std::string& hostnqn);

// "nqn.2014-08.org.nvmexpress:uuid:…" style validation: non-empty, at most
// 223 bytes, starts with "nqn.", and no comma, '=' or control character (they
// would inject options into the kernel's /dev/nvme-fabrics line). Throws
// std::invalid_argument with a one-line reason.
void check_nqn(const std::string& nqn, const char* what);

}  // namespace lazyroot::nvmetcp
