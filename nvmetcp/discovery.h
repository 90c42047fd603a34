#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lazyroot::nvmetcp {

// One record of the discovery log page (log id 0x70), as far as a TCP host
// cares.
struct DiscoveryEntry {
    uint8_t trtype = 0;   // 3: TCP
    uint8_t adrfam = 0;   // 1: IPv4, 2: IPv6
    uint8_t subtype = 0;  // 2: NVM subsystem, 1/3: discovery
    std::string trsvcid;
    std::string traddr;
    std::string subnqn;
};

// The record count in the log's 1024-byte header.
uint64_t discovery_record_count(std::span<const uint8_t> header);
// The records that follow the header; throws std::runtime_error when the
// page is shorter than its count says.
std::vector<DiscoveryEntry> parse_discovery_log(std::span<const uint8_t> page, uint64_t count);
// The first TCP NVM subsystem, with NQN `subnqn` unless that is empty.
std::optional<DiscoveryEntry> pick_entry(const std::vector<DiscoveryEntry>& entries, const std::string& subnqn);

}  // namespace lazyroot::nvmetcp
