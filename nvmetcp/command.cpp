#include "nvmetcp/command.h"

#include <cstdio>
#include <cstring>

#include "io/le_bytes.h"

namespace lazyroot::nvmetcp {
namespace {

using io::get_le;
using io::put_le;

constexpr uint8_t kOpFabrics = 0x7f;
constexpr uint8_t kOpGetLogPage = 0x02;
constexpr uint8_t kOpIdentify = 0x06;
constexpr uint8_t kOpSetFeatures = 0x09;
constexpr uint8_t kOpKeepAlive = 0x18;
constexpr uint8_t kOpRead = 0x02;
constexpr uint8_t kFcPropertySet = 0x00;
constexpr uint8_t kFcConnect = 0x01;
constexpr uint8_t kFcPropertyGet = 0x04;
constexpr uint8_t kPsdtSgl = 0x40;           // PSDT=01: SGLs for data
constexpr uint8_t kSglTransportData = 0x5a;  // transport SGL data block, transport-specific subtype
constexpr uint8_t kSglInCapsule = 0x01;      // data block, offset into the capsule
constexpr uint8_t kFeatNumQueues = 0x07;

Sqe base(uint8_t opcode, uint16_t cid) {
    Sqe s{};
    s[0] = opcode;
    s[1] = kPsdtSgl;
    put_le<uint16_t>(s, 2, cid);
    return s;
}

// DPTR (bytes 24-39) as one SGL descriptor: address, length, type.
void put_sgl(Sqe& s, uint64_t addr, uint32_t len, uint8_t type) {
    put_le<uint64_t>(s, 24, addr);
    put_le<uint32_t>(s, 32, len);
    s[39] = type;
}

Sqe fabrics(uint8_t fctype, uint16_t cid) {
    Sqe s = base(kOpFabrics, cid);
    s[4] = fctype;
    put_sgl(s, 0, 0, kSglTransportData);
    return s;
}

}  // namespace

Sqe make_connect(uint16_t cid, const ConnectParams& p) {
    Sqe s = fabrics(kFcConnect, cid);
    put_sgl(s, 0, kConnectDataLen, kSglInCapsule);
    put_le<uint16_t>(s, 40, 0);  // RECFMT
    put_le<uint16_t>(s, 42, p.qid);
    put_le<uint16_t>(s, 44, p.sqsize);
    s[46] = 0;  // CATTR: SQ flow control stays on; we never exceed SQSIZE anyway
    put_le<uint32_t>(s, 48, p.kato_ms);
    return s;
}

std::array<uint8_t, kConnectDataLen> make_connect_data(std::span<const uint8_t, 16> hostid, uint16_t cntlid,
                                                       const std::string& subnqn, const std::string& hostnqn) {
    std::array<uint8_t, kConnectDataLen> d{};
    std::memcpy(d.data(), hostid.data(), 16);
    put_le<uint16_t>(d, 16, cntlid);
    // NQNs are NUL-terminated within 256 bytes.
    std::memcpy(d.data() + 256, subnqn.data(), std::min<size_t>(subnqn.size(), 255));
    std::memcpy(d.data() + 512, hostnqn.data(), std::min<size_t>(hostnqn.size(), 255));
    return d;
}

Sqe make_property_get(uint16_t cid, uint32_t offset, bool size8) {
    Sqe s = fabrics(kFcPropertyGet, cid);
    s[40] = size8 ? 1 : 0;
    put_le<uint32_t>(s, 44, offset);
    return s;
}

Sqe make_property_set(uint16_t cid, uint32_t offset, uint64_t value) {
    Sqe s = fabrics(kFcPropertySet, cid);
    s[40] = 0;  // 4 bytes: CC
    put_le<uint32_t>(s, 44, offset);
    put_le<uint64_t>(s, 48, value);
    return s;
}

Sqe make_identify(uint16_t cid, uint8_t cns, uint32_t nsid) {
    Sqe s = base(kOpIdentify, cid);
    put_le<uint32_t>(s, 4, nsid);
    put_sgl(s, 0, kIdentifyLen, kSglTransportData);
    put_le<uint32_t>(s, 40, cns);
    return s;
}

Sqe make_set_queue_count(uint16_t cid, uint16_t queues) {
    Sqe s = base(kOpSetFeatures, cid);
    put_sgl(s, 0, 0, kSglTransportData);
    put_le<uint32_t>(s, 40, kFeatNumQueues);
    const uint32_t n = queues - 1u;  // 0's based, submission and completion alike
    put_le<uint32_t>(s, 44, n | (n << 16));
    return s;
}

Sqe make_keep_alive(uint16_t cid) {
    Sqe s = base(kOpKeepAlive, cid);
    put_sgl(s, 0, 0, kSglTransportData);
    return s;
}

Sqe make_get_log_page(uint16_t cid, uint8_t lid, uint32_t len, uint64_t offset) {
    Sqe s = base(kOpGetLogPage, cid);
    put_sgl(s, 0, len, kSglTransportData);
    const uint32_t numd = len / 4 - 1;
    put_le<uint32_t>(s, 40, lid | ((numd & 0xffff) << 16));
    put_le<uint32_t>(s, 44, numd >> 16);
    put_le<uint32_t>(s, 48, static_cast<uint32_t>(offset));
    put_le<uint32_t>(s, 52, static_cast<uint32_t>(offset >> 32));
    return s;
}

Sqe make_read(uint16_t cid, uint32_t nsid, uint64_t slba, uint32_t nlb, uint32_t len) {
    Sqe s = base(kOpRead, cid);
    put_le<uint32_t>(s, 4, nsid);
    put_sgl(s, 0, len, kSglTransportData);
    put_le<uint64_t>(s, 40, slba);     // CDW10-11
    put_le<uint32_t>(s, 48, nlb - 1);  // CDW12: NLB, 0's based
    return s;
}

uint16_t sqe_cid(const Sqe& s) { return get_le<uint16_t>(s, 2); }

Cqe parse_cqe(std::span<const uint8_t, kCqeLen> b) {
    Cqe c;
    c.result = get_le<uint64_t>(b, 0);
    c.sqhd = get_le<uint16_t>(b, 8);
    c.sqid = get_le<uint16_t>(b, 10);
    c.cid = get_le<uint16_t>(b, 12);
    c.status = get_le<uint16_t>(b, 14) >> 1;  // bit 0 is the phase tag
    return c;
}

std::string describe_status(uint16_t status, bool connect) {
    Cqe c;
    c.status = status;
    const char* what = nullptr;
    if (c.sct() == 0) {
        switch (c.sc()) {
            case 0x01:
                what = "invalid opcode";
                break;
            case 0x02:
                what = "invalid field";
                break;
            case 0x04:
                what = "data transfer error";
                break;
            case 0x06:
                what = "internal error";
                break;
            case 0x07:
                what = "command aborted";
                break;
            case 0x0b:
                what = "invalid namespace";
                break;
            case 0x80:
                what = "LBA out of range";
                break;
            case 0x82:
                what = "namespace not ready";
                break;
        }
    } else if (c.sct() == 1 && connect) {
        switch (c.sc()) {
            case 0x80:
                what = "incompatible connect format";
                break;
            case 0x81:
                what = "controller busy";
                break;
            case 0x82:
                what = "subsystem not found or invalid connect parameters";
                break;
            case 0x83:
                what = "restart discovery";
                break;
            case 0x84:
                what = "host not allowed";
                break;
        }
    } else if (c.sct() == 2 && c.sc() == 0x81) {
        what = "unrecovered read error";
    }
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s (SCT %u SC 0x%02x%s)", what ? what : "error", c.sct(), c.sc(),
                  c.dnr() ? ", DNR" : "");
    return buf;
}

}  // namespace lazyroot::nvmetcp
