#include "fake_nvme_target.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "io/le_bytes.h"
#include "nvmetcp/pdu.h"

namespace lazyroot::testing {
namespace {

using io::get_le;
using io::put_le;
using namespace nvmetcp;

bool read_exact(int fd, uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t r = ::recv(fd, p, n, 0);
        if (r <= 0) return false;
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

bool write_all(int fd, const std::vector<uint8_t>& b) {
    size_t off = 0;
    while (off < b.size()) {
        ssize_t r = ::send(fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (r <= 0) return false;
        off += static_cast<size_t>(r);
    }
    return true;
}

std::vector<uint8_t> response(uint16_t cid, uint16_t status, uint64_t result, Digests d) {
    std::array<uint8_t, kCqeLen> c{};
    put_le<uint64_t>(c, 0, result);
    put_le<uint16_t>(c, 12, cid);
    put_le<uint16_t>(c, 14, static_cast<uint16_t>(status << 1));
    return encode_capsule_resp(c, d);
}

}  // namespace

FakeNvmeTarget::FakeNvmeTarget(Options o) : opts_(std::move(o)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(opts_.port);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FakeNvmeTarget::~FakeNvmeTarget() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    {
        std::lock_guard lock(mu_);
        for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    for (int fd : conns_) ::close(fd);
    ::close(listen_fd_);
}

void FakeNvmeTarget::accept_loop() {
    while (!stop_) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::lock_guard lock(mu_);
        conns_.push_back(fd);
        threads_.emplace_back([this, fd] { serve(fd); });
    }
}

void FakeNvmeTarget::serve(int fd) {
    Digests d;
    uint16_t qid = 0;
    struct Held {
        uint16_t cid;
        uint64_t slba;
        uint32_t bytes;
    };
    std::vector<Held> held;
    auto answer = [&](const Held& h) {
        if (opts_.read_status) return write_all(fd, response(h.cid, opts_.read_status, 0, d));
        DataHeader dh;
        dh.cccid = h.cid;
        dh.length = h.bytes;
        dh.last = dh.success = true;
        const uint64_t off = h.slba * opts_.lba_bytes;
        auto pdu = encode_c2h_data(dh, std::span(opts_.image).subspan(off, h.bytes), d);
        if (opts_.malformed_once && !malformed_sent_.exchange(true)) pdu[1] &= ~kFlagLastPdu;
        if (opts_.bad_data_digest_once && d.data && !bad_digest_sent_.exchange(true)) pdu.back() ^= 0xff;
        return write_all(fd, pdu);
    };
    auto flush_held = [&] {
        bool ok = true;
        for (const auto& h : held) ok = ok && answer(h);
        held.clear();
        return ok;
    };
    std::vector<uint8_t> pdu;
    for (;;) {
        // Reads are held while the host keeps sending: that is how the test
        // sees how many it puts in flight at once.
        if (!held.empty()) {
            pollfd p{fd, POLLIN, 0};
            // A failed write is not the end: what the host sent before
            // closing (an H2CTermReq) is still to be read.
            if (::poll(&p, 1, 50) == 0 && !opts_.never_answer_reads) flush_held();
        }
        uint8_t ch[8];
        if (!read_exact(fd, ch, 8)) break;
        const uint32_t plen = get_le<uint32_t>(std::span<const uint8_t>(ch, 8), 4);
        if (plen < 8 || plen > (1u << 20)) break;
        pdu.assign(ch, ch + 8);
        pdu.resize(plen);
        if (!read_exact(fd, pdu.data() + 8, plen - 8)) break;
        if (pdu[0] == static_cast<uint8_t>(PduType::ICReq)) {
            ICResp r;
            r.digests = {(pdu[11] & 1) != 0, (pdu[11] & 2) != 0};
            r.maxh2cdata = 131072;
            if (!write_all(fd, encode_icresp(r))) break;
            d = r.digests;
            continue;
        }
        if (pdu[0] == static_cast<uint8_t>(PduType::H2CTermReq)) ++term_reqs;
        if (pdu[0] != static_cast<uint8_t>(PduType::CapsuleCmd)) break;
        std::span<const uint8_t> s(pdu.data() + 8, kSqeLen);
        const uint8_t opc = s[0];
        const uint16_t cid = get_le<uint16_t>(s, 2);
        std::vector<uint8_t> out;
        if (opc == 0x7f) {
            const uint8_t fctype = s[4];
            if (fctype == 0x01) {
                qid = get_le<uint16_t>(s, 42);
                if (qid == 0) {
                    ++admin_connects;
                    kato_ms = get_le<uint32_t>(s, 48);
                } else {
                    ++io_connects;
                    io_sqsize = get_le<uint16_t>(s, 44);
                }
                out = response(cid, 0, 1, d);  // cntlid 1
            } else if (fctype == 0x04) {
                const uint32_t reg = get_le<uint32_t>(s, 44);
                const uint64_t v = reg == 0x00 ? (opts_.mqes | (uint64_t{10} << 24)) : reg == 0x1c ? 1 : 0;
                out = response(cid, 0, v, d);
            } else {
                out = response(cid, 0, 0, d);
            }
        } else if (opc == 0x02 && qid != 0) {
            const unsigned n = ++reads;
            const uint64_t slba = get_le<uint64_t>(s, 40);
            const uint32_t bytes = (get_le<uint32_t>(s, 48) + 1) * opts_.lba_bytes;
            max_read_bytes = std::max(max_read_bytes.load(), bytes);
            if (opts_.drop_after_reads >= 0 && static_cast<int>(n) > opts_.drop_after_reads && !dropped_.exchange(true))
                break;
            if (slba * opts_.lba_bytes + bytes > opts_.image.size()) {
                out = response(cid, 0x80 | 0x4000, 0, d);  // LBA out of range, DNR
            } else {
                held.push_back({cid, slba, bytes});
                max_outstanding = std::max<unsigned>(max_outstanding.load(), static_cast<unsigned>(held.size()));
                if (!opts_.batch_reads && !opts_.never_answer_reads && !flush_held()) break;
                continue;
            }
        } else {
            if (opc == 0x18) ++keep_alives;
            out = response(cid, 0, 0, d);  // Set Features, Keep Alive
        }
        if (!write_all(fd, out)) break;
    }
    ::shutdown(fd, SHUT_RDWR);
}

}  // namespace lazyroot::testing
