#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "nvmetcp/pdu.h"

// NVMe submission queue entries the host sends over fabrics, and the
// completion entries it gets back (NVMe base 2.0 and NVMe-oF 1.1 layouts).
namespace lazyroot::nvmetcp {

using Sqe = std::array<uint8_t, kSqeLen>;

// Controller registers reached through Property Get/Set.
inline constexpr uint32_t kRegCap = 0x00;
inline constexpr uint32_t kRegVs = 0x08;
inline constexpr uint32_t kRegCc = 0x14;
inline constexpr uint32_t kRegCsts = 0x1c;

// CC.EN with IOSQES=6 (64-byte SQEs) and IOCQES=4 (16-byte CQEs), NVM command set, 4 KiB pages.
inline constexpr uint32_t kCcEnable = 1u | (6u << 16) | (4u << 20);

inline constexpr uint16_t kAdminCntlid = 0xFFFF;  // "any controller" in the admin Connect
inline constexpr uint32_t kConnectDataLen = 1024;
inline constexpr uint32_t kIdentifyLen = 4096;
inline constexpr uint32_t kDiscoveryLogId = 0x70;

struct ConnectParams {
    uint16_t qid = 0;
    uint16_t sqsize = 31;  // 0's based
    uint32_t kato_ms = 0;  // admin queue only
};

Sqe make_connect(uint16_t cid, const ConnectParams& p);
// The 1024-byte in-capsule data of Connect (struct nvmf_connect_data).
std::array<uint8_t, kConnectDataLen> make_connect_data(std::span<const uint8_t, 16> hostid, uint16_t cntlid,
                                                       const std::string& subnqn, const std::string& hostnqn);
// size8: an 8-byte property (CAP), else 4 bytes.
Sqe make_property_get(uint16_t cid, uint32_t offset, bool size8);
Sqe make_property_set(uint16_t cid, uint32_t offset, uint64_t value);
Sqe make_identify(uint16_t cid, uint8_t cns, uint32_t nsid);
Sqe make_set_queue_count(uint16_t cid, uint16_t queues);
Sqe make_keep_alive(uint16_t cid);
Sqe make_get_log_page(uint16_t cid, uint8_t lid, uint32_t len, uint64_t offset);
// Read with one transport SGL data block: PSDT=01, SGL type 0x5A.
Sqe make_read(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t len);

uint16_t sqe_cid(const Sqe& s);

struct Cqe {
    uint64_t result = 0;  // DW0 | DW1 << 32
    uint16_t sqhd = 0;
    uint16_t sqid = 0;
    uint16_t cid = 0;
    uint16_t status = 0;  // without the phase bit: SC | SCT << 8 | CRD << 11 | M << 13 | DNR << 14

    bool ok() const { return (status & 0x7ff) == 0; }
    bool dnr() const { return (status & 0x4000) != 0; }
    uint8_t sc() const { return status & 0xff; }
    uint8_t sct() const { return (status >> 8) & 7; }
};

Cqe parse_cqe(std::span<const uint8_t, kCqeLen> b);

// "subsystem not found or host not allowed (SCT 1 SC 0x82, DNR)" and the like.
std::string describe_status(uint16_t status, bool connect);

}  // namespace lazyroot::nvmetcp
