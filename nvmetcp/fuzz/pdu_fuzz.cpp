// libFuzzer: the receive-side PDU parser must never crash, read out of
// bounds or hand the sink anything inconsistent, whatever the controller
// sends and however the socket splits it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "nvmetcp/pdu.h"

namespace {

using namespace lazyroot::nvmetcp;

// Checks what the parser promises its sink.
struct CheckingSink final : PduSink {
    bool in_data = false;
    DataHeader cur;
    std::vector<uint8_t> buf;  // where the current PDU's data goes
    uint32_t max_data = 0;

    void on_icresp(const ICResp&) override {}
    void on_capsule_resp(std::span<const uint8_t, kCqeLen>) override { check(!in_data); }
    uint8_t* on_c2h_header(const DataHeader& h) override {
        check(!in_data);
        check(h.length > 0 && uint64_t{h.offset} + h.length <= max_data);
        check(!h.success || h.last);
        in_data = true;
        cur = h;
        buf.assign(h.length, 0);
        return buf.data();
    }
    void on_c2h_end(const DataHeader& h, bool /*digest_ok*/) override {
        check(in_data && h.cccid == cur.cccid && h.length == cur.length);
        in_data = false;
    }
    void on_r2t(const DataHeader& h) override { check(!in_data && h.length > 0); }
    void on_c2h_term(const TermReq& t) override { check(!in_data && t.data.size() <= kTermMaxData); }

    static void check(bool ok) {
        if (!ok) std::abort();
    }
};

}  // namespace

// Byte 0: bit 0 feeds a valid ICResp first (to reach the post-handshake
// states), bits 1-2 the negotiated digests; byte 1: the largest piece the
// "socket" hands over at once. The rest is the stream.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t mode = data[0];
    const size_t piece = data[1] % 64 + 1;
    std::span<const uint8_t> in(data + 2, size - 2);

    CheckingSink sink;
    sink.max_data = 1u << 16;
    PduParser p;
    p.set_max_data(sink.max_data);
    const Digests d{(mode & 2) != 0, (mode & 4) != 0};
    if (mode & 1) {
        ICResp r;
        r.maxh2cdata = 8192;
        r.digests = d;
        auto ic = encode_icresp(r);
        if (!p.feed(ic, sink)) std::abort();
        p.set_digests(d);
    }
    while (!in.empty()) {
        const size_t n = std::min(piece, in.size());
        if (!p.feed(in.first(n), sink)) {
            CheckingSink::check(p.state() == PduParser::State::Failed && !p.error().why.empty());
            CheckingSink::check(p.current_header().size() <= kIcLen + kDigestLen);
            break;
        }
        in = in.subspan(n);
    }
    return 0;
}
