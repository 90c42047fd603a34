// NVMe/TCP: PDU layouts against the spec's field offsets, encode/decode round
// trips, the strict parser's refusals, commands, URIs and the discovery log.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "io/le_bytes.h"
#include "nvmetcp/command.h"
#include "nvmetcp/discovery.h"
#include "nvmetcp/pdu.h"
#include "nvmetcp/target_uri.h"

using namespace lazyroot::nvmetcp;
using lazyroot::io::get_le;
using lazyroot::io::put_le;

namespace {

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

// Records everything the parser reports.
struct Recorder final : PduSink {
    std::vector<ICResp> icresps;
    std::vector<Cqe> resps;
    std::vector<DataHeader> data_headers;
    std::vector<uint8_t> payload;
    std::vector<DataHeader> data_ends;
    std::vector<bool> digest_oks;
    std::vector<DataHeader> r2ts;
    std::vector<TermReq> terms;

    void on_icresp(const ICResp& r) override { icresps.push_back(r); }
    void on_capsule_resp(std::span<const uint8_t, kCqeLen> c) override { resps.push_back(parse_cqe(c)); }
    // Each PDU's data goes after the previous ones'.
    uint8_t* on_c2h_header(const DataHeader& h) override {
        data_headers.push_back(h);
        payload.resize(payload_base() + h.length);
        return payload.data() + payload_base();
    }
    void on_c2h_end(const DataHeader& h, bool digest_ok) override {
        data_ends.push_back(h);
        digest_oks.push_back(digest_ok);
    }
    void on_r2t(const DataHeader& h) override { r2ts.push_back(h); }
    void on_c2h_term(const TermReq& t) override { terms.push_back(t); }

    // Payload bytes of the data PDUs before the current one.
    size_t payload_base() const {
        size_t n = 0;
        for (const auto& h : data_ends) n += h.length;
        return n;
    }
};

// A parser past the ICResp, with `d` negotiated.
PduParser ready_parser(Digests d, Recorder& rec) {
    PduParser p;
    ICResp r;
    r.maxh2cdata = 131072;
    r.digests = d;
    EXPECT_TRUE(p.feed(encode_icresp(r), rec));
    p.set_digests(d);
    return p;
}

// Feeds one byte at a time: the parser must keep its place across any split.
bool feed_bytewise(PduParser& p, const std::vector<uint8_t>& b, Recorder& rec) {
    for (uint8_t c : b)
        if (!p.feed({&c, 1}, rec)) return false;
    return true;
}

std::array<uint8_t, kCqeLen> cqe_bytes(uint16_t cid, uint16_t status_field, uint64_t result) {
    std::array<uint8_t, kCqeLen> c{};
    put_le<uint64_t>(c, 0, result);
    put_le<uint16_t>(c, 12, cid);
    put_le<uint16_t>(c, 14, static_cast<uint16_t>(status_field << 1));
    return c;
}

}  // namespace

TEST(NvmeTcpDigest, IsCrc32cAsTheSpecDefinesIt) { EXPECT_EQ(digest(bytes_of("123456789")), 0xE3069283u); }

// NVMe/TCP 1.0, 3.6.2.2: ICReq is 128 bytes; PFV @8, HPDA @10, DGST @11, MAXR2T @12.
TEST(NvmeTcpGolden, ICReq) {
    ICReq r;
    r.hpda = 0;
    r.digests = {true, true};
    r.maxr2t = 0;
    auto b = encode_icreq(r);
    ASSERT_EQ(b.size(), 128u);
    EXPECT_EQ(b[0], 0x00);                    // PDU-Type ICReq
    EXPECT_EQ(b[1], 0x00);                    // FLAGS: never digested
    EXPECT_EQ(b[2], 128);                     // HLEN
    EXPECT_EQ(b[3], 0);                       // PDO
    EXPECT_EQ(get_le<uint32_t>(b, 4), 128u);  // PLEN
    EXPECT_EQ(get_le<uint16_t>(b, 8), 0u);    // PFV 1.0
    EXPECT_EQ(b[10], 0);                      // HPDA
    EXPECT_EQ(b[11], 0x03);                   // HDGST_ENABLE | DDGST_ENABLE
    EXPECT_EQ(get_le<uint32_t>(b, 12), 0u);   // MAXR2T
    for (size_t i = 16; i < 128; ++i) EXPECT_EQ(b[i], 0) << i;
    r.digests = {false, true};
    EXPECT_EQ(encode_icreq(r)[11], 0x02);
}

// Fabrics Connect (NVMe-oF 1.1, 3.3) in a CapsuleCmd (NVMe/TCP 3.6.2.4).
TEST(NvmeTcpGolden, ConnectCapsule) {
    std::array<uint8_t, 16> hostid{};
    for (int i = 0; i < 16; ++i) hostid[i] = static_cast<uint8_t>(0xa0 + i);
    ConnectParams cp;
    cp.qid = 0;
    cp.sqsize = 31;
    cp.kato_ms = 10000;
    const Sqe sqe = make_connect(7, cp);
    const auto data =
        make_connect_data(hostid, 0xFFFF, "nqn.2026-11.io.lazyroot:sub", "nqn.2014-08.org.nvmexpress:uuid:x");
    auto b = encode_capsule_cmd(sqe, data, {});
    ASSERT_EQ(b.size(), 72u + 1024u);
    EXPECT_EQ(b[0], 0x04);  // CapsuleCmd
    EXPECT_EQ(b[1], 0x00);
    EXPECT_EQ(b[2], 72);  // HLEN: 8 + 64-byte SQE
    EXPECT_EQ(b[3], 72);  // PDO: in-capsule data right after the header
    EXPECT_EQ(get_le<uint32_t>(b, 4), 72u + 1024u);
    const uint8_t* s = b.data() + 8;                                           // the SQE
    EXPECT_EQ(s[0], 0x7f);                                                     // Fabrics opcode
    EXPECT_EQ(s[1], 0x40);                                                     // PSDT=01 (SGL)
    EXPECT_EQ(get_le<uint16_t>(std::span<const uint8_t>(s, 64), 2), 7u);       // CID
    EXPECT_EQ(s[4], 0x01);                                                     // FCTYPE Connect
    EXPECT_EQ(get_le<uint64_t>(std::span<const uint8_t>(s, 64), 24), 0u);      // SGL address: offset 0
    EXPECT_EQ(get_le<uint32_t>(std::span<const uint8_t>(s, 64), 32), 1024u);   // SGL length
    EXPECT_EQ(s[39], 0x01);                                                    // SGL data block, offset subtype
    EXPECT_EQ(get_le<uint16_t>(std::span<const uint8_t>(s, 64), 40), 0u);      // RECFMT
    EXPECT_EQ(get_le<uint16_t>(std::span<const uint8_t>(s, 64), 42), 0u);      // QID
    EXPECT_EQ(get_le<uint16_t>(std::span<const uint8_t>(s, 64), 44), 31u);     // SQSIZE
    EXPECT_EQ(get_le<uint32_t>(std::span<const uint8_t>(s, 64), 48), 10000u);  // KATO
    const uint8_t* d = b.data() + 72;                                          // connect data
    EXPECT_EQ(0, std::memcmp(d, hostid.data(), 16));
    EXPECT_EQ(get_le<uint16_t>(std::span<const uint8_t>(d, 1024), 16), 0xFFFFu);
    EXPECT_STREQ(reinterpret_cast<const char*>(d + 256), "nqn.2026-11.io.lazyroot:sub");
    EXPECT_STREQ(reinterpret_cast<const char*>(d + 512), "nqn.2014-08.org.nvmexpress:uuid:x");

    // With both digests: HDGST after the header, PDO moves, DDGST after the data.
    auto g = encode_capsule_cmd(sqe, data, {true, true});
    ASSERT_EQ(g.size(), 72u + 4 + 1024 + 4);
    EXPECT_EQ(g[1], 0x03);
    EXPECT_EQ(g[3], 76);
    EXPECT_EQ(get_le<uint32_t>(g, 72), digest({g.data(), 72}));
    EXPECT_EQ(get_le<uint32_t>(g, 76 + 1024), digest(data));
    EXPECT_EQ(0, std::memcmp(g.data() + 76, data.data(), 1024));
}

// NVM Read: PSDT=01, transport SGL data block (0x5A), SLBA in CDW10-11, NLB-1 in CDW12.
TEST(NvmeTcpGolden, ReadCapsule) {
    const Sqe sqe = make_read(0x1234, 1, 0x0102030405ull, 8, 32768);
    auto b = encode_capsule_cmd(sqe, {}, {true, false});
    ASSERT_EQ(b.size(), 72u + 4);
    EXPECT_EQ(b[1], 0x01);  // HDGSTF only: no data, no DDGSTF
    EXPECT_EQ(b[3], 0);     // PDO 0 without in-capsule data
    EXPECT_EQ(get_le<uint32_t>(b, 4), 76u);
    std::span<const uint8_t> s(b.data() + 8, 64);
    EXPECT_EQ(s[0], 0x02);
    EXPECT_EQ(s[1], 0x40);
    EXPECT_EQ(get_le<uint16_t>(s, 2), 0x1234u);
    EXPECT_EQ(get_le<uint32_t>(s, 4), 1u);  // NSID
    EXPECT_EQ(get_le<uint64_t>(s, 24), 0u);
    EXPECT_EQ(get_le<uint32_t>(s, 32), 32768u);
    EXPECT_EQ(s[39], 0x5a);
    EXPECT_EQ(get_le<uint32_t>(s, 40), 0x02030405u);  // CDW10
    EXPECT_EQ(get_le<uint32_t>(s, 44), 0x01u);        // CDW11
    EXPECT_EQ(get_le<uint32_t>(s, 48), 7u);           // CDW12: NLB 0's based
    EXPECT_EQ(get_le<uint32_t>(b, 72), digest({b.data(), 72}));
}

TEST(NvmeTcpCommands, PropertyAndAdminLayouts) {
    Sqe g = make_property_get(1, kRegCap, true);
    EXPECT_EQ(g[0], 0x7f);
    EXPECT_EQ(g[4], 0x04);
    EXPECT_EQ(g[40], 1);  // 8-byte property
    EXPECT_EQ(get_le<uint32_t>(g, 44), kRegCap);
    Sqe s = make_property_set(2, kRegCc, kCcEnable);
    EXPECT_EQ(s[4], 0x00);
    EXPECT_EQ(get_le<uint32_t>(s, 44), 0x14u);
    EXPECT_EQ(get_le<uint64_t>(s, 48), 0x00460001u);  // EN, IOSQES=6, IOCQES=4
    Sqe id = make_identify(3, 1, 0);
    EXPECT_EQ(id[0], 0x06);
    EXPECT_EQ(get_le<uint32_t>(id, 32), 4096u);
    EXPECT_EQ(get_le<uint32_t>(id, 40), 1u);
    Sqe ka = make_keep_alive(4);
    EXPECT_EQ(ka[0], 0x18);
    Sqe lp = make_get_log_page(5, kDiscoveryLogId, 4096, 0);
    EXPECT_EQ(lp[0], 0x02);
    EXPECT_EQ(get_le<uint32_t>(lp, 40), 0x70u | (1023u << 16));
    Sqe nq = make_set_queue_count(6, 4);
    EXPECT_EQ(get_le<uint32_t>(nq, 40), 7u);
    EXPECT_EQ(get_le<uint32_t>(nq, 44), 3u | (3u << 16));
}

TEST(NvmeTcpCommands, CompletionStatus) {
    auto c = parse_cqe(cqe_bytes(9, 0x4182, 0x1234));  // SCT 1, SC 0x82, DNR
    EXPECT_EQ(c.cid, 9);
    EXPECT_FALSE(c.ok());
    EXPECT_TRUE(c.dnr());
    EXPECT_EQ(c.sct(), 1);
    EXPECT_EQ(c.sc(), 0x82);
    EXPECT_EQ(c.result, 0x1234u);
    EXPECT_NE(describe_status(c.status, true).find("subsystem not found"), std::string::npos);
    EXPECT_TRUE(parse_cqe(cqe_bytes(1, 0, 0)).ok());
    // The phase bit alone is not an error.
    auto p = cqe_bytes(1, 0, 0);
    p[14] = 1;
    EXPECT_TRUE(parse_cqe(p).ok());
}

TEST(NvmeTcpParser, RoundTripsEveryControllerPdu) {
    for (Digests d : {Digests{false, false}, Digests{true, false}, Digests{false, true}, Digests{true, true}}) {
        for (bool bytewise : {false, true}) {
            Recorder rec;
            PduParser p = ready_parser(d, rec);
            std::vector<uint8_t> stream;
            auto add = [&](const std::vector<uint8_t>& v) { stream.insert(stream.end(), v.begin(), v.end()); };
            add(encode_capsule_resp(cqe_bytes(3, 0, 0xdeadbeef), d));
            std::vector<uint8_t> data(5000);
            for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 7);
            DataHeader h1{4, 0, 0, 3000, false, false};
            DataHeader h2{4, 0, 3000, 2000, true, true};
            add(encode_c2h_data(h1, std::span(data).first(3000), d));
            add(encode_c2h_data(h2, std::span(data).subspan(3000), d));
            add(encode_r2t(DataHeader{5, 9, 0, 4096}, d));
            TermReq t;
            t.fes = 3;
            t.fei = 0x11223344;
            t.data = {1, 2, 3};
            add(encode_c2h_term(t));
            ASSERT_TRUE(bytewise ? feed_bytewise(p, stream, rec) : p.feed(stream, rec)) << p.error().why;
            ASSERT_EQ(rec.resps.size(), 1u);
            EXPECT_EQ(rec.resps[0].cid, 3);
            EXPECT_EQ(rec.resps[0].result, 0xdeadbeefu);
            ASSERT_EQ(rec.data_ends.size(), 2u);
            EXPECT_EQ(rec.data_ends[0].offset, 0u);
            EXPECT_FALSE(rec.data_ends[0].last);
            EXPECT_TRUE(rec.data_ends[1].last);
            EXPECT_TRUE(rec.data_ends[1].success);
            EXPECT_EQ(rec.data_ends[1].offset, 3000u);
            EXPECT_EQ(rec.payload, data);
            ASSERT_EQ(rec.r2ts.size(), 1u);
            EXPECT_EQ(rec.r2ts[0].ttag, 9);
            EXPECT_EQ(rec.r2ts[0].length, 4096u);
            ASSERT_EQ(rec.terms.size(), 1u);
            EXPECT_EQ(rec.terms[0].fes, 3);
            EXPECT_EQ(rec.terms[0].fei, 0x11223344u);
            EXPECT_EQ(rec.terms[0].data, (std::vector<uint8_t>{1, 2, 3}));
        }
    }
}

TEST(NvmeTcpParser, ICRespRoundTrip) {
    ICResp r;
    r.cpda = 0;
    r.digests = {true, false};
    r.maxh2cdata = 65536;
    Recorder rec;
    PduParser p;
    ASSERT_TRUE(feed_bytewise(p, encode_icresp(r), rec));
    ASSERT_EQ(rec.icresps.size(), 1u);
    EXPECT_EQ(rec.icresps[0].digests, (Digests{true, false}));
    EXPECT_EQ(rec.icresps[0].maxh2cdata, 65536u);
}

TEST(NvmeTcpParser, HostPdusHaveTheirLayouts) {
    auto h2c = encode_h2c_data(DataHeader{1, 2, 4096, 8, true, false}, bytes_of("abcdefgh"), {true, true});
    EXPECT_EQ(h2c[0], 0x06);
    EXPECT_EQ(h2c[1], 0x01 | 0x02 | 0x04);
    EXPECT_EQ(h2c[2], 24);
    EXPECT_EQ(h2c[3], 28);
    EXPECT_EQ(get_le<uint32_t>(h2c, 4), 24u + 4 + 8 + 4);
    EXPECT_EQ(get_le<uint16_t>(h2c, 10), 2u);
    EXPECT_EQ(get_le<uint32_t>(h2c, 12), 4096u);
    EXPECT_EQ(get_le<uint32_t>(h2c, 16), 8u);
    TermReq t;
    t.fes = 2;
    t.data.assign(200, 0xee);  // truncated to 128
    auto term = encode_h2c_term(t);
    EXPECT_EQ(term[0], 0x02);
    EXPECT_EQ(term.size(), 24u + 128);
    EXPECT_EQ(get_le<uint16_t>(term, 8), 2u);
}

namespace {

// Feeds `pdu` after a handshake with `d`; returns the error (fes) or -1.
int refusal(const std::vector<uint8_t>& pdu, Digests d = {}, uint32_t max_data = 1u << 20) {
    Recorder rec;
    PduParser p = ready_parser(d, rec);
    p.set_max_data(max_data);
    if (p.feed(pdu, rec)) return -1;
    EXPECT_EQ(p.state(), PduParser::State::Failed);
    EXPECT_FALSE(p.error().why.empty());
    EXPECT_FALSE(p.feed(pdu, rec));  // failure is final
    return static_cast<int>(p.error().fes);
}

}  // namespace

TEST(NvmeTcpParser, RefusesMalformedPdus) {
    auto resp = encode_capsule_resp(cqe_bytes(1, 0, 0), {});
    EXPECT_EQ(refusal(resp), -1);
    auto bad = resp;
    bad[2] = 28;  // HLEN
    EXPECT_EQ(refusal(bad), 1);
    bad = resp;
    bad[3] = 24;  // PDO on a PDU without data
    EXPECT_EQ(refusal(bad), 1);
    bad = resp;
    put_le<uint32_t>(bad, 4, 25);  // PLEN
    EXPECT_EQ(refusal(bad), 1);
    // A digest flag that was not negotiated, and one missing that was.
    bad = resp;
    bad[1] = kFlagHdgst;
    EXPECT_EQ(refusal(bad), 1);
    EXPECT_EQ(refusal(resp, {true, false}), 1);
    // Header digest mismatch.
    auto dig = encode_capsule_resp(cqe_bytes(1, 0, 0), {true, false});
    dig[10] ^= 1;
    EXPECT_EQ(refusal(dig, {true, false}), static_cast<int>(TermFes::HeaderDigestError));

    const std::vector<uint8_t> data(64, 0x5a);
    auto c2h = encode_c2h_data(DataHeader{1, 0, 0, 64, true, true}, data, {});
    EXPECT_EQ(refusal(c2h), -1);
    bad = c2h;
    bad[1] = kFlagSuccess;  // SUCCESS without LAST_PDU
    EXPECT_EQ(refusal(bad), 1);
    bad = c2h;
    bad[3] = 28;  // PDO
    EXPECT_EQ(refusal(bad), 1);
    bad = c2h;
    put_le<uint32_t>(bad, 16, 63);  // DATAL disagrees with PLEN
    EXPECT_EQ(refusal(bad), 1);
    EXPECT_EQ(refusal(c2h, {}, 32), static_cast<int>(TermFes::DataOutOfRange));
    // A data digest mismatch is no refusal: the stream is still in step, the
    // PDU is reported bad, and the next one is parsed.
    auto dd = encode_c2h_data(DataHeader{1, 0, 0, 64, true, true}, data, {false, true});
    dd.back() ^= 0xff;
    EXPECT_EQ(refusal(dd, {false, true}), -1);
    {
        Recorder rec;
        PduParser p = ready_parser({false, true}, rec);
        auto both = dd;
        const auto good = encode_c2h_data(DataHeader{2, 0, 0, 64, true, true}, data, {false, true});
        both.insert(both.end(), good.begin(), good.end());
        ASSERT_TRUE(p.feed(both, rec));
        ASSERT_EQ(rec.data_ends.size(), 2u);
        EXPECT_EQ(rec.data_ends[0].cccid, 1);
        EXPECT_FALSE(rec.digest_oks[0]);
        EXPECT_EQ(rec.data_ends[1].cccid, 2);
        EXPECT_TRUE(rec.digest_oks[1]);
    }

    bad = resp;
    bad[0] = 0x04;  // a CapsuleCmd from the controller
    EXPECT_EQ(refusal(bad), 1);
    bad[0] = 0x42;  // no such type
    EXPECT_EQ(refusal(bad), 1);
    EXPECT_EQ(refusal(encode_icresp(ICResp{0, 0, {}, 4096})), static_cast<int>(TermFes::PduSequenceError));

    // Before the handshake, only ICResp.
    Recorder rec;
    PduParser fresh;
    EXPECT_FALSE(fresh.feed(resp, rec));
    EXPECT_EQ(fresh.error().fes, TermFes::PduSequenceError);
    // An ICResp with a bad MAXH2CDATA or a digested header.
    PduParser p2;
    EXPECT_FALSE(p2.feed(encode_icresp(ICResp{0, 0, {}, 100}), rec));
    auto icr = encode_icresp(ICResp{0, 0, {}, 4096});
    icr[1] = kFlagHdgst;
    PduParser p3;
    EXPECT_FALSE(p3.feed(icr, rec));
}

TEST(NvmeTcpUri, ParsesEveryPart) {
    auto u = parse_target_uri("nvme+tcp://10.0.0.2/nqn.2014-08.org.example:root");
    EXPECT_EQ(u.host, "10.0.0.2");
    EXPECT_EQ(u.port, 4420);
    EXPECT_EQ(u.subnqn, "nqn.2014-08.org.example:root");
    EXPECT_EQ(u.nsid, 1u);
    EXPECT_EQ(u.digests, (Digests{false, false}));
    EXPECT_FALSE(u.discover);

    u = parse_target_uri("nvme+tcp://[fe80::1]:4421/nqn.a:b?nsid=3&digest=header,data");
    EXPECT_EQ(u.host, "fe80::1");
    EXPECT_EQ(u.port, 4421);
    EXPECT_EQ(u.nsid, 3u);
    EXPECT_EQ(u.digests, (Digests{true, true}));

    u = parse_target_uri("nvme+tcp://host/nqn.2014-08.org.nvmexpress.discovery");
    EXPECT_TRUE(u.discover);
    EXPECT_EQ(u.port, 8009);
    u = parse_target_uri("nvme+tcp://host:4420/nqn.x:y?discover&digest=data");
    EXPECT_TRUE(u.discover);
    EXPECT_EQ(u.port, 4420);
    EXPECT_EQ(u.digests, (Digests{false, true}));
    EXPECT_EQ(parse_target_uri("nvme+tcp://h/nqn.x:y?digest=header+data").digests, (Digests{true, true}));

    for (const char* bad :
         {"nvme+tcp://host", "nvme+tcp:///nqn.x", "nvme+tcp://host:0/nqn.x", "nvme+tcp://host:70000/nqn.x",
          "nvme+tcp://host/notnqn", "nvme+tcp://host/nqn.x?nsid=0", "nvme+tcp://host/nqn.x?digest=md5",
          "nvme+tcp://host/nqn.x?foo=1", "nvme+tcp://[::1/nqn.x", "http://host/nqn.x"})
        EXPECT_THROW(parse_target_uri(bad), std::invalid_argument) << bad;
}

TEST(NvmeTcpDiscovery, ParsesTheLogAndPicksATcpSubsystem) {
    std::vector<uint8_t> page(1024 + 3 * 1024, 0);
    put_le<uint64_t>(page, 8, 3);  // NUMREC
    auto entry = [&](int i, uint8_t trtype, uint8_t subtype, const char* port, const char* addr, const char* nqn) {
        uint8_t* e = page.data() + 1024 + i * 1024;
        e[0] = trtype;
        e[1] = 1;  // IPv4
        e[2] = subtype;
        std::memcpy(e + 32, port, std::strlen(port));
        std::memcpy(e + 256, nqn, std::strlen(nqn));
        std::memcpy(e + 512, addr, std::strlen(addr));
    };
    entry(0, 3, 3, "8009", "10.0.0.1", "nqn.2014-08.org.nvmexpress.discovery");  // itself
    entry(1, 1, 2, "4420", "10.0.0.1", "nqn.a:rdma");                            // RDMA
    entry(2, 3, 2, "4420  ", "10.0.0.9", "nqn.a:tcp");                           // space-padded
    EXPECT_EQ(discovery_record_count(page), 3u);
    auto all = parse_discovery_log(page, 3);
    ASSERT_EQ(all.size(), 3u);
    auto e = pick_entry(all, "");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->subnqn, "nqn.a:tcp");
    EXPECT_EQ(e->traddr, "10.0.0.9");
    EXPECT_EQ(e->trsvcid, "4420");
    EXPECT_FALSE(pick_entry(all, "nqn.a:rdma"));
    EXPECT_THROW(parse_discovery_log(std::span(page).first(2048), 3), std::runtime_error);
}
