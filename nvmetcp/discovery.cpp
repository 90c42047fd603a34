#include "nvmetcp/discovery.h"

#include <nvme/types.h>

#include <cstring>
#include <stdexcept>

#include "io/le_bytes.h"

namespace lazyroot::nvmetcp {
namespace {

constexpr size_t kLogHeaderLen = 1024;
static_assert(sizeof(nvmf_disc_log_entry) == 1024);

// Fixed-size ASCII fields: NUL- or space-padded.
std::string field(const char* p, size_t n) {
    std::string s(p, strnlen(p, n));
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

}  // namespace

uint64_t discovery_record_count(std::span<const uint8_t> header) {
    if (header.size() < 16) throw std::runtime_error("discovery log header is too short");
    return io::get_le<uint64_t>(header, offsetof(nvmf_discovery_log, numrec));
}

std::vector<DiscoveryEntry> parse_discovery_log(std::span<const uint8_t> page, uint64_t count) {
    if (page.size() < kLogHeaderLen || (page.size() - kLogHeaderLen) / sizeof(nvmf_disc_log_entry) < count)
        throw std::runtime_error("discovery log is shorter than its " + std::to_string(count) + " records");
    std::vector<DiscoveryEntry> out;
    for (uint64_t i = 0; i < count; ++i) {
        nvmf_disc_log_entry e;
        std::memcpy(&e, page.data() + kLogHeaderLen + i * sizeof e, sizeof e);
        DiscoveryEntry d;
        d.trtype = e.trtype;
        d.adrfam = e.adrfam;
        d.subtype = e.subtype;
        d.trsvcid = field(e.trsvcid, sizeof e.trsvcid);
        d.traddr = field(e.traddr, sizeof e.traddr);
        d.subnqn = field(e.subnqn, sizeof e.subnqn);
        out.push_back(std::move(d));
    }
    return out;
}

std::optional<DiscoveryEntry> pick_entry(const std::vector<DiscoveryEntry>& entries, const std::string& subnqn) {
    for (const auto& e : entries) {
        if (e.trtype != NVMF_TRTYPE_TCP || e.subtype != NVME_NQN_NVME) continue;
        if (e.adrfam != NVMF_ADDR_FAMILY_IP4 && e.adrfam != NVMF_ADDR_FAMILY_IP6) continue;
        if (!subnqn.empty() && e.subnqn != subnqn) continue;
        return e;
    }
    return std::nullopt;
}

}  // namespace lazyroot::nvmetcp
