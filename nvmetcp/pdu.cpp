#include "nvmetcp/pdu.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "io/crc32c.h"
#include "io/le_bytes.h"

namespace lazyroot::nvmetcp {
namespace {

using io::get_le;
using io::put_le;

// Common header: type, flags, hlen, pdo, plen (NVMe/TCP 3.6.1).
void put_ch(std::vector<uint8_t>& b, PduType type, uint8_t flags, uint8_t hlen, uint8_t pdo, uint32_t plen) {
    b.assign(plen, 0);
    b[0] = static_cast<uint8_t>(type);
    b[1] = flags;
    b[2] = hlen;
    b[3] = pdo;
    put_le<uint32_t>(b, 4, plen);
}

void put_hdgst(std::vector<uint8_t>& b, size_t hlen) { put_le<uint32_t>(b, hlen, digest({b.data(), hlen})); }

uint8_t digest_bits(Digests d) { return static_cast<uint8_t>((d.header ? 1 : 0) | (d.data ? 2 : 0)); }

Digests bits_digest(uint8_t v) { return {(v & 1) != 0, (v & 2) != 0}; }

std::vector<uint8_t> encode_data_pdu(PduType type, const DataHeader& h, std::span<const uint8_t> data, Digests d) {
    const size_t hd = d.header ? kDigestLen : 0;
    const size_t dd = d.data && !data.empty() ? kDigestLen : 0;
    const size_t pdo = data.empty() ? 0 : kDataHlen + hd;
    const size_t plen = kDataHlen + hd + data.size() + dd;
    uint8_t flags = static_cast<uint8_t>((hd ? kFlagHdgst : 0) | (dd ? kFlagDdgst : 0));
    if (h.last) flags |= kFlagLastPdu;
    if (h.success) flags |= kFlagSuccess;
    std::vector<uint8_t> b;
    put_ch(b, type, flags, kDataHlen, static_cast<uint8_t>(pdo), static_cast<uint32_t>(plen));
    put_le<uint16_t>(b, 8, h.cccid);
    put_le<uint16_t>(b, 10, h.ttag);
    put_le<uint32_t>(b, 12, h.offset);
    put_le<uint32_t>(b, 16, h.length);
    if (hd) put_hdgst(b, kDataHlen);
    if (!data.empty()) {
        std::memcpy(b.data() + pdo, data.data(), data.size());
        if (dd) put_le<uint32_t>(b, pdo + data.size(), digest(data));
    }
    return b;
}

std::vector<uint8_t> encode_term(PduType type, const TermReq& t) {
    const size_t n = std::min(t.data.size(), kTermMaxData);
    std::vector<uint8_t> b;
    put_ch(b, type, 0, kTermHlen, 0, static_cast<uint32_t>(kTermHlen + n));
    put_le<uint16_t>(b, 8, t.fes);
    put_le<uint32_t>(b, 10, t.fei);
    if (n) std::memcpy(b.data() + kTermHlen, t.data.data(), n);
    return b;
}

}  // namespace

uint32_t digest(std::span<const uint8_t> bytes) { return io::crc32c(bytes); }

std::vector<uint8_t> encode_icreq(const ICReq& r) {
    std::vector<uint8_t> b;
    put_ch(b, PduType::ICReq, 0, kIcLen, 0, kIcLen);
    put_le<uint16_t>(b, 8, r.pfv);
    b[10] = r.hpda;
    b[11] = digest_bits(r.digests);
    put_le<uint32_t>(b, 12, r.maxr2t);
    return b;
}

std::vector<uint8_t> encode_icresp(const ICResp& r) {
    std::vector<uint8_t> b;
    put_ch(b, PduType::ICResp, 0, kIcLen, 0, kIcLen);
    put_le<uint16_t>(b, 8, r.pfv);
    b[10] = r.cpda;
    b[11] = digest_bits(r.digests);
    put_le<uint32_t>(b, 12, r.maxh2cdata);
    return b;
}

std::vector<uint8_t> encode_capsule_cmd(std::span<const uint8_t, kSqeLen> sqe, std::span<const uint8_t> data,
                                        Digests d) {
    const size_t hd = d.header ? kDigestLen : 0;
    const size_t dd = d.data && !data.empty() ? kDigestLen : 0;
    const size_t pdo = data.empty() ? 0 : kCapsuleCmdHlen + hd;
    const size_t plen = kCapsuleCmdHlen + hd + data.size() + dd;
    std::vector<uint8_t> b;
    put_ch(b, PduType::CapsuleCmd, static_cast<uint8_t>((hd ? kFlagHdgst : 0) | (dd ? kFlagDdgst : 0)), kCapsuleCmdHlen,
           static_cast<uint8_t>(pdo), static_cast<uint32_t>(plen));
    std::memcpy(b.data() + kCommonHeaderLen, sqe.data(), kSqeLen);
    if (hd) put_hdgst(b, kCapsuleCmdHlen);
    if (!data.empty()) {
        std::memcpy(b.data() + pdo, data.data(), data.size());
        if (dd) put_le<uint32_t>(b, pdo + data.size(), digest(data));
    }
    return b;
}

std::vector<uint8_t> encode_capsule_resp(std::span<const uint8_t, kCqeLen> cqe, Digests d) {
    const size_t hd = d.header ? kDigestLen : 0;
    std::vector<uint8_t> b;
    put_ch(b, PduType::CapsuleResp, hd ? kFlagHdgst : 0, kCapsuleRespHlen, 0,
           static_cast<uint32_t>(kCapsuleRespHlen + hd));
    std::memcpy(b.data() + kCommonHeaderLen, cqe.data(), kCqeLen);
    if (hd) put_hdgst(b, kCapsuleRespHlen);
    return b;
}

std::vector<uint8_t> encode_h2c_data(const DataHeader& h, std::span<const uint8_t> data, Digests d) {
    return encode_data_pdu(PduType::H2CData, h, data, d);
}

std::vector<uint8_t> encode_c2h_data(const DataHeader& h, std::span<const uint8_t> data, Digests d) {
    return encode_data_pdu(PduType::C2HData, h, data, d);
}

std::vector<uint8_t> encode_r2t(const DataHeader& h, Digests d) {
    DataHeader r = h;
    r.last = r.success = false;
    return encode_data_pdu(PduType::R2T, r, {}, Digests{d.header, false});
}

std::vector<uint8_t> encode_h2c_term(const TermReq& t) { return encode_term(PduType::H2CTermReq, t); }
std::vector<uint8_t> encode_c2h_term(const TermReq& t) { return encode_term(PduType::C2HTermReq, t); }

const char* pdu_type_name(uint8_t type) {
    switch (static_cast<PduType>(type)) {
        case PduType::ICReq:
            return "ICReq";
        case PduType::ICResp:
            return "ICResp";
        case PduType::H2CTermReq:
            return "H2CTermReq";
        case PduType::C2HTermReq:
            return "C2HTermReq";
        case PduType::CapsuleCmd:
            return "CapsuleCmd";
        case PduType::CapsuleResp:
            return "CapsuleResp";
        case PduType::H2CData:
            return "H2CData";
        case PduType::C2HData:
            return "C2HData";
        case PduType::R2T:
            return "R2T";
    }
    return "unknown";
}

// ---------------------------------------------------------------------------

bool PduParser::fail(TermFes fes, uint32_t fei, std::string why) {
    state_ = State::Failed;
    error_ = {fes, fei, std::move(why)};
    return false;
}

// Header digests cover every PDU but the connection setup and termination
// ones, which must work whatever was (or was not) negotiated.
static bool header_digested(PduType t, Digests d) {
    return d.header && t != PduType::ICResp && t != PduType::C2HTermReq;
}

size_t PduParser::header_need() const {
    if (hdr_have_ < kCommonHeaderLen) return kCommonHeaderLen;
    const auto t = static_cast<PduType>(hdr_[0]);
    return hdr_[2] + (header_digested(t, digests_) ? kDigestLen : 0);
}

// Checks the common header against the type, before the rest is read.
bool PduParser::validate_header() {
    const uint8_t type = hdr_[0], flags = hdr_[1], hlen = hdr_[2], pdo = hdr_[3];
    const uint32_t plen = get_le<uint32_t>(hdr_, 4);
    const auto t = static_cast<PduType>(type);
    const uint32_t hd = header_digested(t, digests_) ? kDigestLen : 0;
    const uint8_t hflag = hd ? kFlagHdgst : 0;
    auto bad = [&](uint32_t fei, const char* what) {
        return fail(
            TermFes::InvalidHeaderField, fei,
            std::string(pdu_type_name(type)) + " PDU with invalid " + what + " (hlen " + std::to_string(hlen) +
                ", pdo " + std::to_string(pdo) + ", plen " + std::to_string(plen) + ", flags 0x" +
                [&] {
                    char b[4];
                    std::snprintf(b, sizeof b, "%02x", flags);
                    return std::string(b);
                }() +
                ")");
    };
    if (!ic_done_ && t != PduType::ICResp)
        return fail(
            TermFes::PduSequenceError, 0,
            std::string("expected ICResp, got ") + pdu_type_name(type) + " (type " + std::to_string(type) + ")");
    switch (t) {
        case PduType::ICResp:
            if (ic_done_) return fail(TermFes::PduSequenceError, 0, "a second ICResp");
            if (hlen != kIcLen) return bad(2, "hlen");
            if (pdo != 0) return bad(3, "pdo");
            if (plen != kIcLen) return bad(4, "plen");
            if (flags != 0) return bad(1, "flags");
            return true;
        case PduType::CapsuleResp:
            if (hlen != kCapsuleRespHlen) return bad(2, "hlen");
            if (pdo != 0) return bad(3, "pdo");
            if (plen != kCapsuleRespHlen + hd) return bad(4, "plen");
            if (flags != hflag) return bad(1, "flags");
            return true;
        case PduType::R2T:
            if (hlen != kR2THlen) return bad(2, "hlen");
            if (pdo != 0) return bad(3, "pdo");
            if (plen != kR2THlen + hd) return bad(4, "plen");
            if (flags != hflag) return bad(1, "flags");
            return true;
        case PduType::C2HData: {
            const uint8_t dflag = digests_.data ? kFlagDdgst : 0;
            if (hlen != kDataHlen) return bad(2, "hlen");
            // We ask for HPDA 0, so data follows the header (and its digest) directly.
            if (pdo != kDataHlen + hd) return bad(3, "pdo");
            if (plen <= pdo + (dflag ? kDigestLen : 0)) return bad(4, "plen");
            if ((flags & ~(kFlagHdgst | kFlagDdgst | kFlagLastPdu | kFlagSuccess)) != 0 ||
                (flags & kFlagHdgst) != hflag || (flags & kFlagDdgst) != dflag)
                return bad(1, "flags");
            if ((flags & kFlagSuccess) && !(flags & kFlagLastPdu)) return bad(1, "flags (SUCCESS without LAST_PDU)");
            return true;
        }
        case PduType::C2HTermReq:
            if (hlen != kTermHlen) return bad(2, "hlen");
            if (pdo != 0) return bad(3, "pdo");
            if (plen < kTermHlen || plen > kTermHlen + kTermMaxData) return bad(4, "plen");
            if (flags != 0) return bad(1, "flags");
            return true;
        default:
            return fail(TermFes::InvalidHeaderField, 0,
                        std::string("unexpected PDU type ") + std::to_string(type) + " (" + pdu_type_name(type) +
                            ") from the controller");
    }
}

bool PduParser::header_complete(PduSink& sink) {
    const auto t = static_cast<PduType>(hdr_[0]);
    const uint8_t hlen = hdr_[2];
    plen_ = get_le<uint32_t>(hdr_, 4);
    if (header_digested(t, digests_)) {
        const uint32_t want = digest({hdr_.data(), hlen});
        const uint32_t got = get_le<uint32_t>(hdr_, hlen);
        if (want != got)
            return fail(TermFes::HeaderDigestError, 0, std::string(pdu_type_name(hdr_[0])) + " header digest mismatch");
    }
    hdr_have_ = 0;
    switch (t) {
        case PduType::ICResp: {
            ICResp r;
            r.pfv = get_le<uint16_t>(hdr_, 8);
            r.cpda = hdr_[10];
            r.digests = bits_digest(hdr_[11]);
            r.maxh2cdata = get_le<uint32_t>(hdr_, 12);
            if (r.pfv != 0)
                return fail(TermFes::UnsupportedParameter, 8, "ICResp PFV " + std::to_string(r.pfv) + " is not 0");
            if (hdr_[11] & ~3u) return fail(TermFes::InvalidHeaderField, 11, "ICResp DGST has reserved bits set");
            if (r.cpda > 31) return fail(TermFes::InvalidHeaderField, 10, "ICResp CPDA above 31");
            if (r.maxh2cdata < 4096 || r.maxh2cdata % 4 != 0)
                return fail(TermFes::InvalidHeaderField, 12,
                            "ICResp MAXH2CDATA " + std::to_string(r.maxh2cdata) + " is below 4096 or unaligned");
            ic_done_ = true;
            sink.on_icresp(r);
            return state_ != State::Failed;
        }
        case PduType::CapsuleResp:
            sink.on_capsule_resp(std::span<const uint8_t, kCqeLen>(hdr_.data() + kCommonHeaderLen, kCqeLen));
            return true;
        case PduType::R2T:
        case PduType::C2HData: {
            DataHeader h;
            h.cccid = get_le<uint16_t>(hdr_, 8);
            h.ttag = get_le<uint16_t>(hdr_, 10);
            h.offset = get_le<uint32_t>(hdr_, 12);
            h.length = get_le<uint32_t>(hdr_, 16);
            if (t == PduType::R2T) {
                if (h.length == 0) return fail(TermFes::InvalidHeaderField, 16, "R2T with R2TL 0");
                sink.on_r2t(h);
                return true;
            }
            h.last = hdr_[1] & kFlagLastPdu;
            h.success = hdr_[1] & kFlagSuccess;
            const uint32_t dd = digests_.data ? kDigestLen : 0;
            if (h.length == 0 || uint64_t{hdr_[3]} + h.length + dd != plen_)
                return fail(
                    TermFes::InvalidHeaderField, 16,
                    "C2HData DATAL " + std::to_string(h.length) + " does not match PLEN " + std::to_string(plen_));
            if (h.length > max_data_ || uint64_t{h.offset} + h.length > max_data_)
                return fail(TermFes::DataOutOfRange, 12,
                            "C2HData DATAO+DATAL " + std::to_string(uint64_t{h.offset} + h.length) +
                                " exceeds the largest transfer " + std::to_string(max_data_));
            data_hdr_ = h;
            type_ = t;
            data_len_ = h.length;
            data_have_ = 0;
            crc_ = 0;
            ddgst_have_ = 0;
            state_ = State::AwaitPayload;
            dest_ = sink.on_c2h_header(h);
            if (state_ == State::Failed) return false;
            if (!dest_) return fail(TermFes::DataOutOfRange, 12, "C2HData with nowhere to put it");
            return true;
        }
        case PduType::C2HTermReq:
            term_ = {};
            term_.fes = get_le<uint16_t>(hdr_, 8);
            term_.fei = get_le<uint32_t>(hdr_, 10);
            type_ = t;
            data_len_ = plen_ - kTermHlen;
            data_have_ = 0;
            if (data_len_ == 0) {
                sink.on_c2h_term(term_);
                return true;
            }
            state_ = State::AwaitPayload;
            return true;
        default:
            return fail(TermFes::InvalidHeaderField, 0, "unexpected PDU type");
    }
}

namespace {
uint8_t elsewhere_marker;
}  // namespace
uint8_t* const kPayloadElsewhere = &elsewhere_marker;

size_t PduParser::to_boundary() const {
    switch (state_) {
        case State::AwaitHeader:
            if (ic_done_ && hdr_have_ < kCommonHeaderLen)
                return kCapsuleRespHlen + (digests_.header ? kDigestLen : 0) - hdr_have_;
            return header_need() - hdr_have_;
        case State::AwaitPayload:
            return data_len_ - data_have_;
        case State::AwaitDataDigest:
            return kDigestLen - ddgst_have_;
        case State::Failed:
            break;
    }
    return 0;
}

bool PduParser::payload_received_elsewhere(uint32_t n, PduSink& sink) {
    if (!payload_elsewhere() || n > data_len_ - data_have_ || digests_.data)
        return fail(TermFes::PduSequenceError, 0, "C2HData payload received out of step");
    data_have_ += n;
    if (data_have_ < data_len_) return true;
    state_ = State::AwaitHeader;
    sink.on_c2h_end(data_hdr_, true);
    return state_ != State::Failed;
}

void PduParser::stop() {
    state_ = State::Failed;
    error_ = {TermFes::PduSequenceError, 0, "the stream was closed"};
}

bool PduParser::feed(std::span<const uint8_t> in, PduSink& sink) {
    if (state_ == State::Failed) return false;
    while (!in.empty()) {
        switch (state_) {
            case State::AwaitHeader: {
                const size_t need = header_need();
                const size_t n = std::min(need - hdr_have_, in.size());
                std::memcpy(hdr_.data() + hdr_have_, in.data(), n);
                hdr_have_ += n;
                in = in.subspan(n);
                if (hdr_have_ == kCommonHeaderLen && n > 0 && need == kCommonHeaderLen) {
                    if (!validate_header()) return false;
                    continue;  // now the full header length is known
                }
                if (hdr_have_ == need && need > kCommonHeaderLen && !header_complete(sink)) return false;
                break;
            }
            case State::AwaitPayload: {
                const size_t n = std::min<size_t>(data_len_ - data_have_, in.size());
                auto piece = in.first(n);
                if (type_ == PduType::C2HData) {
                    if (dest_ == kPayloadElsewhere)
                        return fail(TermFes::PduSequenceError, 0,
                                    "C2HData payload for a zero-copy read came in a stream read");
                    if (digests_.data) crc_ = io::crc32c(piece, crc_);
                    uint8_t* to = dest_ + data_have_;
                    if (to != piece.data()) std::memcpy(to, piece.data(), n);  // else received in place
                } else {
                    term_.data.insert(term_.data.end(), piece.begin(), piece.end());
                }
                data_have_ += static_cast<uint32_t>(n);
                in = in.subspan(n);
                if (data_have_ < data_len_) break;
                if (type_ == PduType::C2HTermReq) {
                    state_ = State::AwaitHeader;
                    sink.on_c2h_term(term_);
                    break;
                }
                if (digests_.data) {
                    state_ = State::AwaitDataDigest;
                    break;
                }
                state_ = State::AwaitHeader;
                sink.on_c2h_end(data_hdr_, true);
                break;
            }
            case State::AwaitDataDigest: {
                const size_t n = std::min(kDigestLen - ddgst_have_, in.size());
                std::memcpy(ddgst_ + ddgst_have_, in.data(), n);
                ddgst_have_ += n;
                in = in.subspan(n);
                if (ddgst_have_ < kDigestLen) break;
                state_ = State::AwaitHeader;
                sink.on_c2h_end(data_hdr_, get_le<uint32_t>(std::span<const uint8_t>(ddgst_, kDigestLen), 0) == crc_);
                break;
            }
            case State::Failed:
                return false;
        }
        if (state_ == State::Failed) return false;
    }
    return state_ != State::Failed;
}

}  // namespace lazyroot::nvmetcp
