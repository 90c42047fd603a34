#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

// NVMe/TCP PDUs (NVMe over TCP transport specification 1.0, section 3.6),
// written from the spec: layouts, the encoders a host needs, and a strict
// streaming parser for what a controller sends. Pure code over bytes: no
// sockets, unit-tested and fuzzed.
namespace lazyroot::nvmetcp {

enum class PduType : uint8_t {
    ICReq = 0x00,
    ICResp = 0x01,
    H2CTermReq = 0x02,
    C2HTermReq = 0x03,
    CapsuleCmd = 0x04,
    CapsuleResp = 0x05,
    H2CData = 0x06,
    C2HData = 0x07,
    R2T = 0x09,
};

// Common-header flags.
inline constexpr uint8_t kFlagHdgst = 0x01;
inline constexpr uint8_t kFlagDdgst = 0x02;
inline constexpr uint8_t kFlagLastPdu = 0x04;  // C2HData/H2CData
inline constexpr uint8_t kFlagSuccess = 0x08;  // C2HData: no CapsuleResp follows

inline constexpr size_t kCommonHeaderLen = 8;
inline constexpr size_t kIcLen = 128;
inline constexpr size_t kSqeLen = 64;
inline constexpr size_t kCqeLen = 16;
inline constexpr size_t kCapsuleCmdHlen = kCommonHeaderLen + kSqeLen;   // 72
inline constexpr size_t kCapsuleRespHlen = kCommonHeaderLen + kCqeLen;  // 24
inline constexpr size_t kDataHlen = 24;                                 // C2HData, H2CData
inline constexpr size_t kR2THlen = 24;
inline constexpr size_t kTermHlen = 24;
inline constexpr size_t kTermMaxData = 128;  // the offending header, truncated
inline constexpr size_t kDigestLen = 4;

// Fatal error status of a termination request.
enum class TermFes : uint16_t {
    InvalidHeaderField = 0x01,
    PduSequenceError = 0x02,
    HeaderDigestError = 0x03,
    DataOutOfRange = 0x04,
    DataLimitExceeded = 0x05,
    UnsupportedParameter = 0x06,
};

struct Digests {
    bool header = false;
    bool data = false;
    bool operator==(const Digests&) const = default;
};

// CRC32C as NVMe/TCP wants it (seed ~0, inverted, stored little-endian).
uint32_t digest(std::span<const uint8_t> bytes);

struct ICReq {
    uint16_t pfv = 0;
    uint8_t hpda = 0;  // 0's based dwords the host wants C2H data aligned to
    Digests digests;
    uint32_t maxr2t = 0;  // 0's based
};

struct ICResp {
    uint16_t pfv = 0;
    uint8_t cpda = 0;
    Digests digests;
    uint32_t maxh2cdata = 0;
};

// A data PDU header (C2HData, H2CData) or R2T: they share the layout.
struct DataHeader {
    uint16_t cccid = 0;
    uint16_t ttag = 0;    // H2CData, R2T
    uint32_t offset = 0;  // DATAO / R2TO
    uint32_t length = 0;  // DATAL / R2TL
    bool last = false;
    bool success = false;  // C2HData only
};

struct TermReq {
    uint16_t fes = 0;
    uint32_t fei = 0;
    std::vector<uint8_t> data;  // the offending PDU header, at most 128 bytes
};

// --- Encoders (whole PDUs, digests included when `d` says so) --------------
std::vector<uint8_t> encode_icreq(const ICReq& r);
// `sqe` is the 64-byte command; `data` is in-capsule data (Connect).
std::vector<uint8_t> encode_capsule_cmd(std::span<const uint8_t, kSqeLen> sqe, std::span<const uint8_t> data,
                                        Digests d);
std::vector<uint8_t> encode_h2c_term(const TermReq& t);
std::vector<uint8_t> encode_h2c_data(const DataHeader& h, std::span<const uint8_t> data, Digests d);
// Controller-side PDUs: for tests, the fuzzer's seeds and round trips.
std::vector<uint8_t> encode_icresp(const ICResp& r);
std::vector<uint8_t> encode_capsule_resp(std::span<const uint8_t, kCqeLen> cqe, Digests d);
std::vector<uint8_t> encode_c2h_data(const DataHeader& h, std::span<const uint8_t> data, Digests d);
std::vector<uint8_t> encode_r2t(const DataHeader& h, Digests d);
std::vector<uint8_t> encode_c2h_term(const TermReq& t);

// --- Receive side ------------------------------------------------------------
// What the parser hands over, in stream order. C2HData payload is not handed
// over piece by piece: the sink names, when the header arrives, where the
// PDU's DATAL bytes belong, and the parser puts them there.
class PduSink {
public:
    virtual void on_icresp(const ICResp& r) = 0;
    virtual void on_capsule_resp(std::span<const uint8_t, kCqeLen> cqe) = 0;
    // C2HData header: where its h.length payload bytes go (the command's
    // buffer at DATAO), or null when they have nowhere to go (the sink has
    // failed the stream then; the parser stops). kPayloadElsewhere: the
    // caller receives the payload itself (into memory it cannot address, a
    // ublk request's pages) and reports it with payload_received_elsewhere().
    virtual uint8_t* on_c2h_header(const DataHeader& h) = 0;
    // Every payload byte arrived. `digest_ok` is false when the data digest
    // did not match: the bytes are bad but the stream is still in step (the
    // header was sound), so only this command needs doing again.
    virtual void on_c2h_end(const DataHeader& h, bool digest_ok) = 0;
    virtual void on_r2t(const DataHeader& h) = 0;
    virtual void on_c2h_term(const TermReq& t) = 0;

protected:
    ~PduSink() = default;
};

// A C2HData payload the parser never sees (see PduSink::on_c2h_header).
extern uint8_t* const kPayloadElsewhere;

struct ParseError {
    TermFes fes = TermFes::InvalidHeaderField;
    uint32_t fei = 0;  // byte offset of the offending field in the header
    std::string why;   // one line
};

// A streaming parser for controller-to-host PDUs: bytes arrive in whatever
// pieces the socket gives and it keeps its place. Strict: hlen, pdo, plen and
// flags are checked against the type and the negotiated digests; the first
// violation is final.
class PduParser {
public:
    enum class State { AwaitHeader, AwaitPayload, AwaitDataDigest, Failed };

    // Before ICResp only ICResp is accepted; after it, anything but ICResp.
    PduParser() = default;
    void set_digests(Digests d) { digests_ = d; }
    // C2HData DATAL above this is a protocol error (the largest read we issue).
    void set_max_data(uint32_t n) { max_data_ = n; }

    // Consumes all of `bytes` unless an error occurs; returns false then and
    // error() says why. Calls into `sink` as PDUs complete.
    bool feed(std::span<const uint8_t> bytes, PduSink& sink);

    State state() const { return state_; }
    // Inside a C2HData payload: where the rest of it goes and how much is
    // still to come (empty elsewhere). The caller may receive straight into
    // it and feed() that same memory: the bytes are then not copied.
    std::span<uint8_t> c2h_window() const {
        if (state_ != State::AwaitPayload || type_ != PduType::C2HData || dest_ == kPayloadElsewhere) return {};
        return {dest_ + data_have_, data_len_ - data_have_};
    }
    // Inside a C2HData payload that the caller receives itself: the header,
    // and how much of the payload is still to come.
    bool payload_elsewhere() const {
        return state_ == State::AwaitPayload && type_ == PduType::C2HData && dest_ == kPayloadElsewhere;
    }
    const DataHeader& data_header() const { return data_hdr_; }
    // `n` bytes of such a payload arrived. Returns false on a protocol error.
    bool payload_received_elsewhere(uint32_t n, PduSink& sink);
    // Bytes up to the end of what is being parsed now (a header, a payload, a
    // digest), so that a caller can read no further: the next PDU's payload
    // may have to go elsewhere. Before a common header is in, the 24 bytes
    // every PDU after ICResp has (plus the header digest).
    size_t to_boundary() const;
    // Stops a feed() in progress (the sink closed the stream): it returns false.
    void stop();
    const ParseError& error() const { return error_; }
    // The header bytes of the PDU being parsed (for a termination request).
    std::span<const uint8_t> current_header() const { return {hdr_.data(), hdr_have_}; }

private:
    bool fail(TermFes fes, uint32_t fei, std::string why);
    bool header_complete(PduSink& sink);
    bool validate_header();
    size_t header_need() const;

    Digests digests_;
    uint32_t max_data_ = 1u << 24;
    bool ic_done_ = false;
    State state_ = State::AwaitHeader;
    std::vector<uint8_t> hdr_ = std::vector<uint8_t>(kIcLen + kDigestLen);
    size_t hdr_have_ = 0;
    // Payload of the current PDU (C2HData or C2HTermReq).
    PduType type_ = PduType::ICReq;
    uint32_t plen_ = 0;
    uint32_t data_len_ = 0;
    uint32_t data_have_ = 0;
    uint8_t* dest_ = nullptr;  // where the C2HData payload goes
    uint32_t crc_ = 0;         // running data digest state
    uint8_t ddgst_[kDigestLen] = {};
    size_t ddgst_have_ = 0;
    DataHeader data_hdr_;
    TermReq term_;
    ParseError error_;
};

const char* pdu_type_name(uint8_t type);

}  // namespace lazyroot::nvmetcp
