#pragma once
#include <cstdint>
#include <string>

#include "nvmetcp/pdu.h"

namespace lazyroot::nvmetcp {

inline constexpr char kDiscoveryNqn[] = "nqn.2014-08.org.nvmexpress.discovery";
inline constexpr uint16_t kDefaultPort = 4420;
inline constexpr uint16_t kDiscoveryPort = 8009;

// nvme+tcp://HOST[:PORT]/SUBSYSNQN[?nsid=N&digest=header,data&discover]
struct TargetUri {
    std::string text;
    std::string host;  // IPv4, a name, or an IPv6 address given in brackets (kept without them)
    uint16_t port = kDefaultPort;
    std::string subnqn;  // the discovery NQN means "the first subsystem discovery lists"
    uint32_t nsid = 1;
    Digests digests;
    // Ask HOST:PORT's discovery controller where SUBSYSNQN is, then go there.
    bool discover = false;
};

// Throws std::invalid_argument with a one-line reason.
TargetUri parse_target_uri(const std::string& text);

}  // namespace lazyroot::nvmetcp
