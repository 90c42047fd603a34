#pragma once
#include <gtest/gtest.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/event_loop.h"
#include "io/source.h"

namespace lazyroot::testing {

// One read through a QueueReader, with its result once the loop delivers it.
struct ReadOp final : io::ReadCallback {
    std::vector<std::byte> buf;
    uint64_t offset = 0;
    int result = 1;  // 1: not completed yet
    bool done() const { return result != 1; }
    void on_read_done(int r) override { result = r; }
};

// Issues every read, then runs the loop until all have completed.
inline void run_reads(io::EventLoop& loop, io::QueueReader& reader, std::vector<ReadOp>& ops) {
    for (auto& op : ops) reader.read(op.offset, op.buf, op);
    auto pending = [&] {
        for (const auto& op : ops)
            if (!op.done()) return true;
        return false;
    };
    while (pending()) ASSERT_GE(loop.run_once(), 0);
}

// Registers every op's buffer with the loop's ring and reads each through
// read_fixed (zero copy). Returns how many the reader took; the others stay
// unread (result 1).
inline size_t run_fixed_reads(io::EventLoop& loop, io::QueueReader& reader, std::vector<ReadOp>& ops) {
    std::vector<iovec> iov;
    for (auto& op : ops) iov.push_back({op.buf.data(), op.buf.size()});
    EXPECT_EQ(io_uring_register_buffers(loop.raw(), iov.data(), static_cast<unsigned>(iov.size())), 0);
    std::vector<ReadOp*> taken;
    for (size_t i = 0; i < ops.size(); ++i) {
        const io::FixedBuffer fb{static_cast<uint16_t>(i), reinterpret_cast<uintptr_t>(ops[i].buf.data())};
        if (reader.read_fixed(ops[i].offset, static_cast<uint32_t>(ops[i].buf.size()), fb, ops[i]))
            taken.push_back(&ops[i]);
    }
    auto pending = [&] {
        for (const auto* op : taken)
            if (!op->done()) return true;
        return false;
    };
    while (pending()) EXPECT_GE(loop.run_once(), 0);
    io_uring_unregister_buffers(loop.raw());
    return taken.size();
}

inline bool matches(const ReadOp& op, const std::vector<uint8_t>& image) {
    return op.offset + op.buf.size() <= image.size() &&
           std::equal(op.buf.begin(), op.buf.end(), reinterpret_cast<const std::byte*>(image.data()) + op.offset);
}

}  // namespace lazyroot::testing
