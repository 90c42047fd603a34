#pragma once
#include <gtest/gtest.h>

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

inline bool matches(const ReadOp& op, const std::vector<uint8_t>& image) {
    return op.offset + op.buf.size() <= image.size() &&
           std::equal(op.buf.begin(), op.buf.end(), reinterpret_cast<const std::byte*>(image.data()) + op.offset);
}

}  // namespace lazyroot::testing
