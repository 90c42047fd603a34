// The NVMe/TCP IO queue against a fake controller on loopback: reads split
// at MDTS, never more commands in flight than SQSIZE allows, unaligned reads,
// reissue after a dropped connection, DNR and --io-timeout as EIO, and with
// --io-timeout=infinity a read that waits for a target that isn't there yet.
#include <gtest/gtest.h>

#include <cerrno>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <string>
#include <vector>

#include "fake_nvme_target.h"
#include "io/event_loop.h"
#include "nvmetcp/io_queue.h"
#include "read_driver.h"

using namespace lazyroot;
using lazyroot::testing::FakeNvmeTarget;
using lazyroot::testing::ReadOp;

namespace {

std::vector<uint8_t> random_image(size_t n) {
    std::vector<uint8_t> v(n);
    std::mt19937_64 rng(n);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
}

nvmetcp::IoQueueConfig config(uint16_t port, size_t size, uint32_t lba, uint32_t max_transfer,
                              io::IoTimeout io_timeout = std::chrono::seconds(20)) {
    nvmetcp::IoQueueConfig c;
    c.controller.endpoint = nvmetcp::resolve("127.0.0.1", port);
    c.controller.subnqn = "nqn.2026-11.io.lazyroot:fake";
    c.controller.hostnqn = "nqn.2026-11.io.lazyroot:host";
    c.controller.name = "test queue";
    c.ns.nsid = 1;
    c.ns.lba_bytes = lba;
    c.ns.size_bytes = size;
    c.ns.max_transfer = max_transfer;
    c.io_timeout = io_timeout;
    return c;
}

// A destroyed queue's sockets still have polls in the ring; let their
// cancellations complete (the watches free themselves then) before the loop goes.
void drain(io::EventLoop& loop) {
    bool done = false;
    loop.post([&] { done = true; });
    while (!done) ASSERT_GE(loop.run_once(), 0);
}

std::vector<ReadOp> mixed_reads(size_t image, uint32_t lba) {
    std::vector<ReadOp> ops(24);
    std::mt19937 rng(7);
    for (size_t i = 0; i < ops.size(); ++i) {
        // Whole blocks, multi-MDTS spans, and 512-byte-aligned pieces of 4 KiB blocks.
        const size_t len = i % 3 == 0 ? 65536 : i % 3 == 1 ? lba : 1536;
        ops[i].offset = (rng() % ((image - len) / 512)) * 512;
        ops[i].buf.resize(len);
    }
    return ops;
}

}  // namespace

TEST(NvmeTcpIoQueue, SplitsAtMdtsAndHonoursSqsize) {
    FakeNvmeTarget::Options o;
    o.image = random_image(4 << 20);
    o.lba_bytes = 4096;
    o.mqes = 7;
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto q = std::make_unique<nvmetcp::IoQueue>(loop, config(target.port(), o.image.size(), 4096, 16384), 32);
    auto ops = mixed_reads(o.image.size(), 4096);
    lazyroot::testing::run_reads(loop, *q, ops);
    q.reset();
    drain(loop);
    for (const auto& op : ops) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(lazyroot::testing::matches(op, o.image)) << op.offset;
    }
    EXPECT_LE(target.max_read_bytes.load(), 16384u);  // MDTS
    EXPECT_EQ(target.io_sqsize.load(), 7u);           // asked for 33 entries, CAP.MQES allows 8
    EXPECT_LE(target.max_outstanding.load(), 7u);     // never more than SQSIZE in flight
    EXPECT_GT(target.max_outstanding.load(), 1u);     // but more than one
}

TEST(NvmeTcpIoQueue, ReissuesReadsAfterTheConnectionDrops) {
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    o.drop_after_reads = 3;
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto q = std::make_unique<nvmetcp::IoQueue>(loop, config(target.port(), o.image.size(), 512, 8192), 16);
    auto ops = mixed_reads(o.image.size(), 512);
    lazyroot::testing::run_reads(loop, *q, ops);
    q.reset();
    drain(loop);
    for (const auto& op : ops) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(lazyroot::testing::matches(op, o.image)) << op.offset;
    }
    EXPECT_GE(target.admin_connects.load(), 2u);  // the whole association was redone
    EXPECT_GE(target.io_connects.load(), 2u);
}

TEST(NvmeTcpIoQueue, DnrIsNotRetried) {
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    o.read_status = 0x02 | 0x4000;  // invalid field, DNR
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto q = std::make_unique<nvmetcp::IoQueue>(
        loop, config(target.port(), o.image.size(), 512, 8192, std::chrono::hours(1)), 4);
    std::vector<ReadOp> ops(1);
    ops[0].buf.resize(4096);
    lazyroot::testing::run_reads(loop, *q, ops);
    q.reset();
    drain(loop);
    EXPECT_EQ(ops[0].result, -EIO);
    EXPECT_EQ(target.reads.load(), 1u);
}

TEST(NvmeTcpIoQueue, GivesUpAtTheIoTimeoutWithEio) {
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    o.never_answer_reads = true;
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto q = std::make_unique<nvmetcp::IoQueue>(
        loop, config(target.port(), o.image.size(), 512, 8192, std::chrono::milliseconds(500)), 4);
    std::vector<ReadOp> ops(2);
    for (auto& op : ops) op.buf.resize(4096);
    lazyroot::testing::run_reads(loop, *q, ops);
    q.reset();
    drain(loop);
    for (const auto& op : ops) EXPECT_EQ(op.result, -EIO);
}

TEST(NvmeTcpIoQueue, SendsKeepAliveEveryHalfKato) {
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto cfg = config(target.port(), o.image.size(), 512, 8192);
    cfg.controller.kato_ms = 200;
    auto q = std::make_unique<nvmetcp::IoQueue>(loop, cfg, 4);
    // Idle: only the keep-alive timer makes traffic. Wait for three.
    while (target.keep_alives.load() < 3) ASSERT_GE(loop.run_once(), 0);
    EXPECT_EQ(target.kato_ms.load(), 200u);       // KATO went out in the admin Connect
    EXPECT_EQ(target.admin_connects.load(), 1u);  // and the association never dropped
    q.reset();
    drain(loop);
}

TEST(NvmeTcpIoQueue, AMalformedPduTearsDownTheConnectionAndReadsRecover) {
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    o.malformed_once = true;
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto q = std::make_unique<nvmetcp::IoQueue>(loop, config(target.port(), o.image.size(), 512, 8192), 8);
    auto ops = mixed_reads(o.image.size(), 512);
    lazyroot::testing::run_reads(loop, *q, ops);
    q.reset();
    drain(loop);
    for (const auto& op : ops) {
        EXPECT_EQ(op.result, 0);
        EXPECT_TRUE(lazyroot::testing::matches(op, o.image)) << op.offset;
    }
    EXPECT_EQ(target.term_reqs.load(), 1u);  // the host said why before closing
    EXPECT_GE(target.io_connects.load(), 2u);
}

// A data digest that does not match is that one command's fault, not the
// connection's: the read is redone on the same connection and served right.
TEST(NvmeTcpIoQueue, ADataDigestErrorRedoesTheCommandOnTheSameConnection) {
    // The same reads against a sound target: how many commands they take.
    auto run = [](FakeNvmeTarget::Options o, std::string* err) {
        FakeNvmeTarget target(o);
        io::EventLoop loop;
        EXPECT_EQ(loop.init(64), 0);
        auto cfg = config(target.port(), o.image.size(), 512, 8192);
        cfg.controller.digests = {false, true};
        auto q = std::make_unique<nvmetcp::IoQueue>(loop, cfg, 8);
        auto ops = mixed_reads(o.image.size(), 512);
        ::testing::internal::CaptureStderr();
        lazyroot::testing::run_reads(loop, *q, ops);
        q.reset();
        drain(loop);
        *err = ::testing::internal::GetCapturedStderr();
        for (const auto& op : ops) {
            EXPECT_EQ(op.result, 0);
            EXPECT_TRUE(lazyroot::testing::matches(op, o.image)) << op.offset;
        }
        EXPECT_EQ(target.term_reqs.load(), 0u) << "the connection was torn down";
        EXPECT_EQ(target.io_connects.load(), 1u);
        return target.reads.load();
    };
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    std::string err;
    const unsigned sound = run(o, &err);
    o.bad_data_digest_once = true;
    EXPECT_EQ(run(o, &err), sound + 1) << "one command, and only that one, was sent twice";
    EXPECT_NE(err.find("data digest mismatch"), std::string::npos) << err;
}

namespace {

// A loopback port nothing listens on (connections are refused) until a
// target is started on it.
uint16_t unused_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace

TEST(NvmeTcpIoQueue, WithAnInfiniteIoTimeoutAReadWaitsForTheTarget) {
    const auto image = random_image(1 << 20);
    const uint16_t port = unused_port();
    std::vector<std::string> lines;
    auto cfg = config(port, image.size(), 512, 8192, std::nullopt);
    // Report at once, so that the line shows up while the target is away.
    cfg.outage = std::make_shared<io::OutageMonitor>(
        "target", [&](const std::string& l) { lines.push_back(l); },
        io::OutageMonitor::Intervals{std::chrono::seconds(0), std::chrono::hours(1)});
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    auto q = std::make_unique<nvmetcp::IoQueue>(loop, cfg, 4);
    std::vector<ReadOp> ops(1);
    ops[0].offset = 8192;
    ops[0].buf.resize(4096);
    q->read(ops[0].offset, ops[0].buf, ops[0]);
    // Refused, again and again: the read waits, counted, and the line is out.
    while (lines.empty()) ASSERT_GE(loop.run_once(), 0);
    EXPECT_FALSE(ops[0].done());
    EXPECT_EQ(cfg.outage->waiting(), 1u);
    EXPECT_NE(lines[0].find("target unreachable for "), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(", 1 read waiting"), std::string::npos) << lines[0];

    FakeNvmeTarget::Options o;
    o.image = image;
    o.port = port;
    FakeNvmeTarget target(o);
    while (!ops[0].done()) ASSERT_GE(loop.run_once(), 0);
    q.reset();
    drain(loop);
    EXPECT_EQ(ops[0].result, 0);
    EXPECT_TRUE(lazyroot::testing::matches(ops[0], image));
    EXPECT_EQ(cfg.outage->waiting(), 0u);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(lines[1].find("target reachable again after "), std::string::npos) << lines[1];
}

namespace {

// Zero copy and copies at once on one connection: the fixed reads' buffers
// are registered with the ring, every other op is read into its own buffer.
// Returns how many fixed reads the queue took.
size_t run_mixed_zero_copy(io::EventLoop& loop, nvmetcp::IoQueue& q, std::vector<ReadOp>& fixed,
                           std::vector<ReadOp>& copies) {
    std::vector<iovec> iov;
    for (auto& op : fixed) iov.push_back({op.buf.data(), op.buf.size()});
    EXPECT_EQ(io_uring_register_buffers(loop.raw(), iov.data(), static_cast<unsigned>(iov.size())), 0);
    size_t taken = 0;
    for (size_t i = 0; i < fixed.size(); ++i) {
        const io::FixedBuffer fb{static_cast<uint16_t>(i), reinterpret_cast<uintptr_t>(fixed[i].buf.data())};
        if (q.read_fixed(fixed[i].offset, static_cast<uint32_t>(fixed[i].buf.size()), fb, fixed[i])) ++taken;
        if (i < copies.size()) q.read(copies[i].offset, copies[i].buf, copies[i]);
    }
    for (size_t i = fixed.size(); i < copies.size(); ++i) q.read(copies[i].offset, copies[i].buf, copies[i]);
    auto pending = [&] {
        for (const auto& op : fixed)
            if (!op.done()) return true;
        for (const auto& op : copies)
            if (!op.done()) return true;
        return false;
    };
    if (taken == fixed.size()) {
        while (pending()) EXPECT_GE(loop.run_once(), 0);
    }
    io_uring_unregister_buffers(loop.raw());
    return taken;
}

std::vector<ReadOp> whole_block_reads(size_t image, uint32_t lba, unsigned n, unsigned seed) {
    std::vector<ReadOp> ops(n);
    std::mt19937 rng(seed);
    for (size_t i = 0; i < ops.size(); ++i) {
        // One block, several MDTS pieces, and a read that ends the namespace.
        const size_t len = i % 3 == 0 ? 65536 : i % 3 == 1 ? lba : 3 * lba;
        ops[i].offset = i == 5 ? image - len : (rng() % ((image - len) / lba)) * lba;
        ops[i].buf.resize(len);
    }
    return ops;
}

}  // namespace

// C2H payloads read from the socket straight into registered buffers serve
// the same bytes as copies, with copies and unaligned reads interleaved on
// the same connection, and after the connection drops mid-way.
TEST(NvmeTcpIoQueue, ZeroCopyReadsServeTheSameBytesAsCopies) {
    for (const int drop : {-1, 4}) {
        FakeNvmeTarget::Options o;
        o.image = random_image(4 << 20);
        o.lba_bytes = 4096;
        o.drop_after_reads = drop;
        FakeNvmeTarget target(o);
        io::EventLoop loop;
        ASSERT_EQ(loop.init(64), 0);
        auto q = std::make_unique<nvmetcp::IoQueue>(loop, config(target.port(), o.image.size(), 4096, 16384), 32);
        auto fixed = whole_block_reads(o.image.size(), 4096, 12, 11);
        auto copies = mixed_reads(o.image.size(), 4096);
        ASSERT_EQ(run_mixed_zero_copy(loop, *q, fixed, copies), fixed.size());
        q.reset();
        drain(loop);
        for (const auto& op : fixed) {
            EXPECT_EQ(op.result, 0);
            EXPECT_TRUE(lazyroot::testing::matches(op, o.image)) << "zero copy at " << op.offset;
        }
        for (const auto& op : copies) {
            EXPECT_EQ(op.result, 0);
            EXPECT_TRUE(lazyroot::testing::matches(op, o.image)) << "copy at " << op.offset;
        }
        if (drop >= 0) {
            EXPECT_GE(target.io_connects.load(), 2u);
        }
    }
}

// What the daemon must see or bounce is not read by zero copy: a partial
// block, and any read when data digests are on.
TEST(NvmeTcpIoQueue, ZeroCopyRefusesPartialBlocksAndDigestedData) {
    FakeNvmeTarget::Options o;
    o.image = random_image(1 << 20);
    o.lba_bytes = 4096;
    FakeNvmeTarget target(o);
    io::EventLoop loop;
    ASSERT_EQ(loop.init(64), 0);
    for (const bool digest : {false, true}) {
        auto cfg = config(target.port(), o.image.size(), 4096, 16384);
        cfg.controller.digests.data = digest;
        auto q = std::make_unique<nvmetcp::IoQueue>(loop, cfg, 4);
        std::vector<ReadOp> ops(3);
        ops[0].offset = 512, ops[0].buf.resize(4096);
        ops[1].offset = 4096, ops[1].buf.resize(1024);
        ops[2].offset = 8192, ops[2].buf.resize(8192);
        EXPECT_EQ(lazyroot::testing::run_fixed_reads(loop, *q, ops), digest ? 0u : 1u);
        EXPECT_FALSE(ops[0].done());
        EXPECT_FALSE(ops[1].done());
        if (!digest) {
            EXPECT_EQ(ops[2].result, 0);
            EXPECT_TRUE(lazyroot::testing::matches(ops[2], o.image));
        }
        q.reset();
        drain(loop);
    }
}
